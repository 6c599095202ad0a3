#include "sef/hal/model_transport.h"

#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "sef/base/mutex.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/cmd/wire.h"

namespace sef::hal {
namespace {

TransportResult FromCompletion(const model::Completion& c) {
  return {absl::OkStatus(), c.status, c.result};
}

// CompletionOrder::kShuffled: completions wait in a bag and one thread hands them over in a
// seeded random order, as the kernel's reaper may.
class ShuffledDelivery {
 public:
  explicit ShuffledDelivery(uint64_t seed) : rng_(seed), thread_([this] { Run(); }) {}
  ~ShuffledDelivery() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    wake_.SignalAll();
    thread_.join();  // delivers everything still waiting first
  }

  void Post(TransportCallback done, TransportResult result) {
    {
      MutexLock lock(&mu_);
      waiting_.emplace_back(std::move(done), std::move(result));
    }
    wake_.Signal();
  }

 private:
  void Run() {
    for (;;) {
      std::pair<TransportCallback, TransportResult> next;
      {
        MutexLock lock(&mu_);
        while (waiting_.empty() && !stop_) wake_.Wait(&mu_);
        if (waiting_.empty()) return;
        const size_t pick = std::uniform_int_distribution<size_t>(0, waiting_.size() - 1)(rng_);
        std::swap(waiting_[pick], waiting_.back());
        next = std::move(waiting_.back());
        waiting_.pop_back();
      }
      std::move(next.first)(std::move(next.second));
    }
  }

  Mutex mu_;
  CondVar wake_;
  std::vector<std::pair<TransportCallback, TransportResult>> waiting_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the members above exist
};

class ModelTransport final : public Transport {
 public:
  ModelTransport(std::string name, std::shared_ptr<model::Controller> unit,
                 const TransportOptions& options)
      : name_(std::move(name)), unit_(std::move(unit)) {
    if (options.completion_order == CompletionOrder::kShuffled) {
      delivery_ = std::make_unique<ShuffledDelivery>(options.shuffle_seed);
    }
  }

  ~ModelTransport() override {
    uint64_t observer = 0;
    {
      MutexLock lock(&mu_);
      observer = observer_;
    }
    if (observer != 0) unit_->RemoveEventObserver(observer);
    delivery_.reset();  // hands over the completions still waiting
  }

  const std::string& name() const override { return name_; }

  void Submit(const Command& c, TransportCallback done) override {
    if (delivery_ == nullptr) {
      unit_->Submit(c, [done = std::move(done)](model::Completion completion) mutable {
        std::move(done)(FromCompletion(completion));
      });
      return;
    }
    unit_->Submit(c, [delivery = delivery_.get(),
                      done = std::move(done)](model::Completion completion) mutable {
      delivery->Post(std::move(done), FromCompletion(completion));
    });
  }

  // The model pairs by NLWID/NLCID itself; submitting in order is all "back to back" needs.
  void SubmitPair(const Command& first, TransportCallback first_done, const Command& second,
                  TransportCallback second_done) override {
    Submit(first, std::move(first_done));
    Submit(second, std::move(second_done));
  }

  absl::Status WatchEvents(absl::AnyInvocable<void(const TransportEvent&)> on_event) override {
    MutexLock lock(&mu_);
    if (observer_ != 0) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: events are already being watched", name_));
    }
    auto shared =
        std::make_shared<absl::AnyInvocable<void(const TransportEvent&)>>(std::move(on_event));
    observer_ = unit_->AddEventObserver([shared](const model::ControllerEvent& e) {
      TransportEvent event;
      if (e.kind == model::ControllerEvent::Kind::kSuperBlock) {
        event.dw0 = cmd::AsyncEvent::Sef(wire::LogId::kSuperBlockInfo).ToResult();
        event.sb_info = e.sb;
      } else {
        event.dw0 = cmd::AsyncEvent::Sef(wire::LogId::kVirtualDeviceInfo).ToResult();
        event.vd_warning = std::make_pair(e.vd, e.critical_warning);
      }
      (*shared)(event);
    });
    return absl::OkStatus();
  }

  bool events_need_log_reads() const override { return false; }

 private:
  const std::string name_;
  const std::shared_ptr<model::Controller> unit_;
  std::unique_ptr<ShuffledDelivery> delivery_;
  Mutex mu_;
  uint64_t observer_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<Transport> MakeModelTransport(std::shared_ptr<model::Controller> controller,
                                              std::string name, const TransportOptions& options) {
  return std::make_unique<ModelTransport>(std::move(name), std::move(controller), options);
}

absl::StatusOr<std::shared_ptr<model::Controller>> OpenModelController(const std::string& rest) {
  const size_t colon = rest.find(':');
  const std::string config_path = rest.substr(0, colon);
  const std::string backing = colon == std::string::npos ? "" : rest.substr(colon + 1);
  if (config_path.empty()) {
    return absl::InvalidArgumentError(
        "model: needs a unit configuration, e.g. model:testdata/units/default.json");
  }
  SEF_ASSIGN_OR_RETURN(model::UnitConfig config, model::LoadUnitConfig(config_path));
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<model::Controller> unit,
                       model::Controller::Open({.config = config, .backing_file = backing}));
  return std::shared_ptr<model::Controller>(std::move(unit));
}

absl::StatusOr<std::unique_ptr<Transport>> OpenModelTransport(const std::string& rest,
                                                              const TransportOptions& options) {
  SEF_ASSIGN_OR_RETURN(std::shared_ptr<model::Controller> unit, OpenModelController(rest));
  return MakeModelTransport(std::move(unit), "model:" + rest, options);
}

}  // namespace sef::hal
