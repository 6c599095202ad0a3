// The SEF device model: a software SEF controller.
//
// It consumes the very commands the kernel would carry to real hardware (sef::Command, i.e.
// struct nvme_passthru_cmd64 with its buffers) and completes each with the 64-bit result
// and an NVMe status, enforcing the SEF command set's state machines and limits. Storage is
// in RAM or in a backing file that keeps data, metadata and the whole device state across a
// clean close and a crash of the process (docs/model.md describes the format).
//
//   auto unit = model::Controller::Open({.config = *LoadUnitConfig("testdata/units/tiny.json")});
//   (*unit)->Submit(command, [](model::Completion c) { ... });
//
// A unit whose config says "write_cache": "volatile" can lose what was not made durable when
// its power is cut (PowerCut, CutPowerAfter) or its process is killed; docs/model.md, "Power
// loss", states the rule.
//
// Thread-safety: Submit may be called from any number of threads at once (each thread acts
// as a submission queue). Commands on unrelated QoS domains do not serialise behind one lock.
// Completion callbacks run on the submitting thread, before Submit returns, except for
// commands that wait for a partner or an event: an Asynchronous Event Request completes when
// an event arrives, and the first command of a FAR+NLW or NLC+GCR pair completes when its
// second arrives (on that second command's thread). Callbacks must not call Submit
// recursively for the same pair.
#ifndef SEF_HAL_MODEL_CONTROLLER_H_
#define SEF_HAL_MODEL_CONTROLLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "sef/base/clock.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/types.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/model/unit_config.h"

namespace sef::model {

struct Completion {
  uint64_t result = 0;  // CQE DW1:DW0
  NvmeStatus status;
};

using CompletionCallback = absl::AnyInvocable<void(Completion) &&>;

// Asynchronous Event Requests the controller keeps outstanding (Identify Controller AERL + 1);
// one more completes with AER Limit Exceeded.
inline constexpr uint32_t kMaxOutstandingAers = 4;

// An asynchronous event as the controller raises it, for in-process observers.
struct ControllerEvent {
  enum class Kind { kSuperBlock, kVirtualDevice };
  Kind kind = Kind::kSuperBlock;
  wire::SbInfoLog sb{};  // kSuperBlock: the log 0xD3 entry the event reports
  VirtualDeviceId vd;    // kVirtualDevice: the VD and its critical warning bits
  uint8_t critical_warning = 0;
};
using EventObserver = std::function<void(const ControllerEvent&)>;

struct ControllerOptions {
  UnitConfig config;
  // Empty: RAM. Otherwise created if missing, reopened if present (it must have been created
  // for the same config); locked against a second opener.
  std::string backing_file;
  // Time source for open-SB expiry, patrol cycles and unpaired-command timeouts. Not owned;
  // nullptr = the real monotonic clock.
  Clock* clock = nullptr;
  // The half of a pair (FAR or NLW, NLC or GCR; whichever arrived first) still unpaired after
  // this long is aborted (Abort Requested).
  int64_t unpaired_timeout_ms = 30'000;
  // The seed of the power-loss choice made when a backing file of a unit with a volatile write
  // cache opens after its previous opener ended without closing it (a power cut: the process
  // was killed) and when PowerOn follows a cut. Unset: random. Set it to make tests repeatable.
  std::optional<uint64_t> power_cut_seed;
};

class Controller {
 public:
  // Errors: InvalidArgument (config), FailedPrecondition (backing file held by another
  // opener, or created for another config), DataLoss (file header or records corrupt),
  // or the OS error of open/mmap/ftruncate, naming the file.
  static absl::StatusOr<std::unique_ptr<Controller>> Open(ControllerOptions options);

  // Flushes a backing file and releases it. Outstanding AERs and unpaired commands complete
  // with Abort Requested. A clean close makes every written ADU durable (as an NVMe shutdown
  // flushes the cache); a process that ends without it is a power cut for the next opener.
  virtual ~Controller() = default;

  // Executes `cmd`; completes through `done` exactly once. REQUIRES: buffers referenced by
  // `cmd` stay valid until `done` runs.
  virtual void Submit(const Command& cmd, CompletionCallback done) = 0;

  // Submit and wait. Must not be used for a command that waits for a partner or an event.
  Completion Execute(const Command& cmd);

  // A controller reset: completes every parked command (Asynchronous Event Requests and
  // unpaired FAR/NLC) with Abort Requested. Units, VDs, domains and data are untouched.
  virtual void AbortOutstanding() = 0;

  // In-process observers of every asynchronous event the controller raises (SB state
  // changes, VD critical warnings), besides and independent of the AER/log protocol: an
  // observer consumes nothing, so several users of one controller (HAL units, a guest through
  // the QEMU bridge) each see every event. Observers run on the thread that caused the event,
  // while the controller holds its locks: they must be quick and must not call into the
  // controller. RemoveEventObserver returns once the observer is not running and will not
  // run again.
  virtual uint64_t AddEventObserver(EventObserver observer) = 0;
  virtual void RemoveEventObserver(uint64_t handle) = 0;

  // Runs time-driven work now (open-SB expiry, patrol cycle, unpaired timeouts). Submit does
  // it too, at most once per model second. Does nothing while the power is off.
  virtual void Tick() = 0;

  // ---- power (docs/model.md, "Power loss") ----
  //
  // Cuts the power now. On a unit with a volatile write cache, each open super block keeps a
  // prefix of its ADUs: everything below its durable pointer, and of the rest (the volatile
  // tail) a choice made with `seed` (nothing, all, or any length between), applied to the
  // media at once. A unit with "write_cache": "none" loses nothing. Every parked command
  // (AERs, FAR/NLC waiting for their partner) completes with Generic 0x05, Command Aborted due
  // to Power Loss Notification, on the calling thread. Then the unit is off: every command
  // submitted until PowerOn completes with that same status and has no effect. No command is
  // half-applied across a cut: the cut waits for the commands running to finish. A cut while
  // off does nothing. A cut disarms CutPowerAfter.
  virtual void PowerCut(uint64_t seed) = 0;

  // Turns the power back on: the unit recovers its state from the media exactly as an Open of
  // the same storage after a restart does (nothing kept in RAM survives: events not yet read,
  // defined but unselected capacity configurations), so it shows what a restarted device
  // shows. Errors: FailedPrecondition when the power is on; DataLoss as Open (the unit then
  // stays off).
  virtual absl::Status PowerOn() = 0;

  // A deterministic power cut for crash tests: once `commands` more commands have executed, the
  // power is cut (as PowerCut(seed)) before the next command executes, on that command's
  // thread; that command then completes as any command submitted while off. Every Submit
  // while the power is on counts as one command, whatever its outcome: admin and I/O, each
  // half of a FAR+NLW or NLC+GCR pair, and Asynchronous Event Requests. Tick, PowerOn and
  // the other calls of this class do not count. 0 cuts before the next command. Replaces an
  // earlier trigger not yet fired.
  virtual void CutPowerAfter(uint64_t commands, uint64_t seed) = 0;

  // False between a power cut and PowerOn.
  virtual bool powered() const = 0;

  virtual const UnitConfig& config() const = 0;

 protected:
  Controller() = default;
};

}  // namespace sef::model

#endif  // SEF_HAL_MODEL_CONTROLLER_H_
