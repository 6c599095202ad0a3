#include "sef/hal/internal/model_transport.h"

#include <atomic>
#include <mutex>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/model/controller.h"

namespace sef::hal::internal {
namespace {

TransportResult FromCompletion(const model::Completion& c) {
  return {absl::OkStatus(), c.status, c.result};
}

class ModelTransport final : public Transport {
 public:
  ModelTransport(std::string name, std::unique_ptr<model::Controller> unit)
      : name_(std::move(name)), unit_(std::move(unit)) {}

  ~ModelTransport() override {
    stopping_.store(true, std::memory_order_release);
    unit_.reset();  // aborts the outstanding AERs; their callbacks see stopping_
  }

  const std::string& name() const override { return name_; }

  void Submit(const Command& c, TransportCallback done) override {
    unit_->Submit(c, [done = std::move(done)](model::Completion completion) mutable {
      std::move(done)(FromCompletion(completion));
    });
  }

  // The model pairs by NLWID/NLCID itself; submitting in order is all "back to back" needs.
  void SubmitPair(const Command& first, TransportCallback first_done, const Command& second,
                  TransportCallback second_done) override {
    Submit(first, std::move(first_done));
    Submit(second, std::move(second_done));
  }

  absl::Status WatchEvents(absl::AnyInvocable<void(uint32_t)> on_event) override {
    std::lock_guard lock(mu_);
    if (on_event_) return absl::FailedPreconditionError("events are already being watched");
    on_event_ = std::move(on_event);
    // Keep as many AERs outstanding as events that may be reported at once (one per log).
    ArmAer();
    ArmAer();
    return absl::OkStatus();
  }

 private:
  void ArmAer() {
    Command aer;
    aer.queue = QueueType::kAdmin;
    aer.sqe.opcode = static_cast<uint8_t>(wire::AdminOpcode::kAsyncEventRequest);
    unit_->Submit(aer, [this](model::Completion c) {
      if (stopping_.load(std::memory_order_acquire) || !c.status.ok()) return;
      {
        std::lock_guard lock(mu_);
        on_event_(static_cast<uint32_t>(c.result));
      }
      ArmAer();
    });
  }

  const std::string name_;
  std::unique_ptr<model::Controller> unit_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  absl::AnyInvocable<void(uint32_t)> on_event_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> OpenModelTransport(const std::string& rest) {
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
  return std::unique_ptr<Transport>(
      std::make_unique<ModelTransport>("model:" + rest, std::move(unit)));
}

}  // namespace sef::hal::internal
