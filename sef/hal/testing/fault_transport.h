// A Transport decorator that fails chosen commands, for fault-injection tests of the HAL and
// the layers above it: the rule sees every command; when it returns a result, the command
// does not reach the unit and completes with that result instead.
//
//   transport->SetRule([](const Command& c) -> std::optional<TransportResult> {
//     if (c.opcode() == static_cast<uint8_t>(wire::IoOpcode::kRead))
//       return TransportResult{absl::OkStatus(), NvmeStatus(2, 0x81, true), 0};
//     return std::nullopt;
//   });
//
// A pair whose half is failed is not sent at all: the failed half completes with the rule's
// result, its partner with Abort Requested (what a host sees when the pair cannot be sent).
//
// Thread-safety: as every Transport; SetRule may be called at any time.
#ifndef SEF_HAL_TESTING_FAULT_TRANSPORT_H_
#define SEF_HAL_TESTING_FAULT_TRANSPORT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sef/base/mutex.h"
#include "sef/hal/transport.h"

namespace sef::hal::testing {

using FaultRule = std::function<std::optional<TransportResult>(const Command&)>;

class FaultTransport final : public Transport {
 public:
  explicit FaultTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}

  // Replaces the rule; an empty rule lets everything through.
  void SetRule(FaultRule rule) {
    MutexLock lock(&mu_);
    rule_ = std::move(rule);
  }

  const std::string& name() const override { return inner_->name(); }
  void Submit(const Command& c, TransportCallback done) override {
    if (std::optional<TransportResult> r = Fault(c)) return std::move(done)(std::move(*r));
    inner_->Submit(c, std::move(done));
  }
  void SubmitPair(const Command& first, TransportCallback first_done, const Command& second,
                  TransportCallback second_done) override {
    std::optional<TransportResult> a = Fault(first), b = Fault(second);
    if (!a.has_value() && !b.has_value()) {
      return inner_->SubmitPair(first, std::move(first_done), second, std::move(second_done));
    }
    const TransportResult aborted{absl::OkStatus(), NvmeStatus(0, 0x07, true), 0};
    std::move(first_done)(a.value_or(aborted));
    std::move(second_done)(b.value_or(aborted));
  }
  absl::Status WatchEvents(absl::AnyInvocable<void(const TransportEvent&)> on_event) override {
    return inner_->WatchEvents(std::move(on_event));
  }
  bool events_need_log_reads() const override { return inner_->events_need_log_reads(); }
  absl::Status NamespacesChanged() override { return inner_->NamespacesChanged(); }

 private:
  std::optional<TransportResult> Fault(const Command& c) {
    FaultRule rule;
    {
      MutexLock lock(&mu_);
      rule = rule_;
    }
    if (!rule) return std::nullopt;
    return rule(c);
  }

  const std::unique_ptr<Transport> inner_;
  Mutex mu_;
  FaultRule rule_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sef::hal::testing

#endif  // SEF_HAL_TESTING_FAULT_TRANSPORT_H_
