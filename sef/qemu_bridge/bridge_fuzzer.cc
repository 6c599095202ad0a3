// Fuzz target: the C ABI of libsefbridge (sef_bridge.h) as QEMU drives it, on one RAM unit
// (the model fuzz unit) opened per input. An input is a sequence of up to 200 records:
//
//   u8 kind % 4:
//     0  sef_bridge_submit of a raw command: i8 admin (0/1 below 0xF0, else any int), u8 flags
//        (bit 0 = SEF_BRIDGE_VECTORED below 0xF0, else a u32 of any flags follows), the
//        72-byte sef_bridge_cmd (addr and metadata replaced), u8 buffer mode (bit 0 NULL data,
//        bit 1 NULL metadata, bit 2 NULL iovec base), then contiguous: data_len bytes;
//        vectored: data_len iovecs (up to 16, or 1016..1031 when data_len's low byte says so)
//        of u16 lengths; buffers as fuzz_command.h fills them
//     1  sef_bridge_poll of u8 % 64 + 1 entries
//     2  one operation of the model fuzz driver (sef/hal/model/testing/fuzz_driver.h), every
//        command of which goes through sef_bridge_submit: one u8 per command picks contiguous
//        or vectored and how the buffer is split into iovecs (so that every command, not only
//        NLW and Read, is also sent as an iovec list and bounced)
//     3  u8 % 4: sef_bridge_tick, sef_bridge_reset, sef_bridge_unit_info, NULL arguments
//   a last u8: bit 0 closes the unit with completions still queued (else drains first)
//
// Checked beyond "no crash, no sanitizer report, no leak": submit refuses (-EINVAL) what the
// header says it refuses and otherwise returns 0 or -E2BIG/-ENOMEM/-EIO; every accepted tag
// completes exactly once and no other tag ever does; the eventfd is readable exactly when
// completions wait; unit info is well formed. Buffers are freed only after their completion
// was polled or the unit closed, so ASan sees any late access.
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "sef/base/clock.h"
#include "sef/base/testing/fuzz.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model/testing/fuzz_driver.h"
#include "sef/hal/model/unit_config.h"
#include "sef/qemu_bridge/sef_bridge.h"

namespace sef::qemu_bridge {
namespace {

using sef::testing::FuzzTape;

constexpr int kMaxRecords = 200;
constexpr uint64_t kMaxBytes = 256 << 10;
constexpr uint64_t kDriverTag = uint64_t{1} << 63;  // tags of the driver's commands

// The unit configuration file sef_bridge_open reads (written again if it has gone).
std::string ConfigPath() {
  const std::string path = sef::testing::FuzzScratchPath("bridge_fuzzer.json");
  if (access(path.c_str(), R_OK) != 0) {
    std::ofstream(path) << model::UnitConfigToJson(model::testing::FuzzUnitConfig());
    static const bool cleanup = [] {
      return std::atexit([] {
               std::remove(sef::testing::FuzzScratchPath("bridge_fuzzer.json").c_str());
             }) == 0;
    }();
    (void)cleanup;
  }
  return path;
}

// One accepted command: what it references stays here until it completes.
struct Outstanding {
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  std::vector<iovec> iov;
  model::CompletionCallback done;  // the driver's commands
};

class BridgeFuzzer;

// The model fuzz driver's view of the unit: a Controller whose commands go through the C ABI.
class BridgeController final : public model::Controller {
 public:
  BridgeController(BridgeFuzzer& fuzzer, const model::UnitConfig& config)
      : fuzzer_(fuzzer), config_(config) {}
  void Submit(const Command& cmd, model::CompletionCallback done) override;
  void AbortOutstanding() override;
  void Tick() override;
  const model::UnitConfig& config() const override { return config_; }
  // The C ABI has no event observers and no power switch: the driver's power operations do
  // nothing here (model_fuzzer covers them).
  uint64_t AddEventObserver(model::EventObserver) override { return 0; }
  void RemoveEventObserver(uint64_t) override {}
  void PowerCut(uint64_t) override {}
  absl::Status PowerOn() override { return absl::FailedPreconditionError("always on"); }
  void CutPowerAfter(uint64_t, uint64_t) override {}
  bool powered() const override { return true; }

 private:
  BridgeFuzzer& fuzzer_;
  const model::UnitConfig& config_;
};

class BridgeFuzzer {
 public:
  BridgeFuzzer(sef_bridge_unit* unit, FuzzTape& tape)
      : unit_(unit),
        tape_(tape),
        config_(model::testing::FuzzUnitConfig()),
        controller_(*this, config_),
        driver_(controller_, config_, clock_) {}

  void Record() {
    switch (tape_.U8() % 4) {
      case 0:
        return RawSubmit();
      case 1:
        Poll(tape_.U8() % 64 + 1);
        return;
      case 2:
        return driver_.Step(tape_);
      default:
        return Misc();
    }
  }

  // Ends the input: drains or closes with completions queued, then checks every tag.
  void Finish() {
    const bool drain = !(tape_.U8() & 1);
    if (drain) {
      sef_bridge_reset(unit_);  // parked commands complete (aborted)
      PollAll();
      SEF_FUZZ_CHECK(outstanding_.empty(), "%zu accepted commands never completed",
                     outstanding_.size());
    }
    sef_bridge_close(unit_);
    unit_ = nullptr;
    outstanding_.clear();  // only now may the buffers go
  }

  // The driver's commands (BridgeController::Submit).
  void SubmitFromDriver(const Command& c, model::CompletionCallback done) {
    auto o = std::make_unique<Outstanding>();
    o->done = std::move(done);
    sef_bridge_cmd in;
    static_assert(sizeof(in) <= sizeof(c.sqe));
    std::memcpy(&in, &c.sqe, sizeof(in));
    uint32_t flags = c.vectored ? SEF_BRIDGE_VECTORED : 0;
    const uint8_t form = tape_.U8();
    if (!c.vectored && (form & 1) && c.sqe.data_len != 0 && c.sqe.addr != 0) {
      // The same bytes as an iovec list: pieces of the caller's buffer, some empty.
      auto* base = reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(c.sqe.addr));
      uint32_t left = c.sqe.data_len;
      const uint32_t pieces = (form >> 1) % 5 + 1;
      for (uint32_t i = 0; i < pieces; ++i) {
        const uint32_t len = i + 1 == pieces ? left : std::min(left, (left >> (form >> 5)) + i);
        o->iov.push_back({base + (c.sqe.data_len - left), len});
        left -= len;
      }
      in.addr = reinterpret_cast<uintptr_t>(o->iov.data());
      in.data_len = static_cast<uint32_t>(o->iov.size());
      flags = SEF_BRIDGE_VECTORED;
    } else if (c.vectored && (form & 1)) {
      // An iovec list the model reads as such, sent contiguous: gathered here (the driver's
      // reads then see no data, which it does not check).
      const auto* iov = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(c.sqe.addr));
      uint64_t total = 0;
      for (uint32_t i = 0; i < c.sqe.vec_cnt; ++i) total += iov[i].iov_len;
      o->buffers.push_back(std::make_unique<uint8_t[]>(total));
      for (uint64_t i = 0, at = 0; i < c.sqe.vec_cnt; at += iov[i].iov_len, ++i) {
        if (iov[i].iov_len == 0) continue;  // its base may be NULL
        std::memcpy(o->buffers.back().get() + at, iov[i].iov_base, iov[i].iov_len);
      }
      in.addr = reinterpret_cast<uintptr_t>(o->buffers.back().get());
      in.data_len = static_cast<uint32_t>(total);
      flags = 0;
    }
    Submit(c.queue == QueueType::kAdmin ? SEF_BRIDGE_QUEUE_ADMIN : SEF_BRIDGE_QUEUE_IO, in, flags,
           kDriverTag | next_tag_++, std::move(o), /*must_accept=*/false);
  }

  sef_bridge_unit* unit() { return unit_; }
  void PollAll() {
    while (Poll(64) == 64) {
    }
  }

 private:
  void Submit(int admin, const sef_bridge_cmd& in, uint32_t flags, uint64_t tag,
              std::unique_ptr<Outstanding> o, bool must_accept) {
    const int rc = sef_bridge_submit(unit_, admin, &in, flags, tag);
    SEF_FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM || rc == -EIO,
                   "sef_bridge_submit returned %d", rc);
    SEF_FUZZ_CHECK(!must_accept || rc == 0, "a well-formed command was refused: %d", rc);
    if (rc == 0) {
      outstanding_[tag] = std::move(o);
    } else if (o->done) {
      // The driver expects an answer: a command the bridge refused never reached the unit.
      std::move(o->done)(model::Completion{0, NvmeStatus(0, 0x02, true)});
    }
    PollAll();
  }

  // A raw command with fuzzed arguments, buffers and lengths.
  void RawSubmit() {
    const uint8_t admin_byte = tape_.U8();
    const int admin = admin_byte < 0xF0 ? (admin_byte & 1) : static_cast<int8_t>(admin_byte);
    const uint8_t flags_byte = tape_.U8();
    const uint32_t flags = flags_byte < 0xF0 ? (flags_byte & 1) : tape_.U32();
    sef_bridge_cmd in;
    std::memset(&in, 0, sizeof(in));
    tape_.Read(&in, sizeof(in));
    const uint8_t mode = tape_.U8();
    const bool vectored = flags & SEF_BRIDGE_VECTORED;
    auto o = std::make_unique<Outstanding>();
    bool null_iov_base = false;
    uint64_t total = 0;
    in.addr = 0;
    if (vectored) {
      uint32_t count = in.data_len & 0xFF;
      count = count >= 0xF0 ? SEF_BRIDGE_MAX_IOVECS - 8 + (count - 0xF0) : count % 17;
      in.data_len = count;
      for (uint32_t i = 0; i < count; ++i) {
        const uint16_t v = tape_.U16();
        const uint32_t len = v & 0x7FFF;
        total += len;
        if ((v & 0x8000) && (mode & 4) && len != 0) {
          o->iov.push_back({nullptr, len});
          null_iov_base = true;
        } else {
          o->iov.push_back({NewBuffer(*o, len), len});
        }
      }
      if (!(mode & 1)) in.addr = reinterpret_cast<uintptr_t>(o->iov.data());
    } else {
      in.data_len %= kMaxBytes;
      total = in.data_len;
      uint8_t* data = NewBuffer(*o, in.data_len);
      if (!(mode & 1)) in.addr = reinterpret_cast<uintptr_t>(data);
    }
    if (total > kMaxBytes) return;
    in.metadata_len %= 64 << 10;
    uint8_t* metadata = NewBuffer(*o, in.metadata_len);
    in.metadata = (mode & 2) ? 0 : reinterpret_cast<uintptr_t>(metadata);
    const uint64_t tag = next_tag_++;
    const int rc = sef_bridge_submit(unit_, admin, &in, flags, tag);
    SEF_FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM || rc == -EIO,
                   "sef_bridge_submit returned %d", rc);
    // What the header says submit refuses.
    const bool refused = (admin != 0 && admin != 1) || (flags & ~SEF_BRIDGE_VECTORED) != 0 ||
                         (in.metadata_len != 0 && in.metadata == 0) ||
                         (in.data_len != 0 && in.addr == 0) ||
                         (vectored && in.data_len > SEF_BRIDGE_MAX_IOVECS) || null_iov_base;
    SEF_FUZZ_CHECK(!refused || rc == -EINVAL, "a command the header refuses returned %d", rc);
    if (rc == 0) outstanding_[tag] = std::move(o);
    PollAll();
  }

  uint8_t* NewBuffer(Outstanding& o, uint64_t size) {
    o.buffers.push_back(std::make_unique<uint8_t[]>(size));
    uint8_t* b = o.buffers.back().get();
    const uint16_t n = tape_.U16();
    FuzzTape content = tape_.Take(n);
    content.Read(b, std::min<uint64_t>(n, size));
    return b;
  }

  // Polls up to `max`; checks tags and the eventfd. Returns how many came.
  size_t Poll(size_t max) {
    struct pollfd p = {sef_bridge_event_fd(unit_), POLLIN, 0};
    SEF_FUZZ_CHECK(p.fd >= 0, "no eventfd: %d", p.fd);
    const bool readable = ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
    std::vector<sef_bridge_completion> c(max);
    const size_t n = sef_bridge_poll(unit_, c.data(), max);
    SEF_FUZZ_CHECK(n <= max, "poll returned %zu of %zu", n, max);
    SEF_FUZZ_CHECK(readable == (n != 0), "eventfd readable %d with %zu completions", readable, n);
    for (size_t i = 0; i < n; ++i) {
      auto it = outstanding_.find(c[i].tag);
      SEF_FUZZ_CHECK(it != outstanding_.end(), "tag 0x%llx completed but is not outstanding",
                     static_cast<unsigned long long>(c[i].tag));
      std::unique_ptr<Outstanding> o = std::move(it->second);
      outstanding_.erase(it);
      if (o->done) {
        std::move(o->done)(model::Completion{c[i].result, NvmeStatus::FromRaw(c[i].status)});
      }
    }
    if (n < max) {
      p.revents = 0;
      SEF_FUZZ_CHECK(::poll(&p, 1, 0) == 0, "eventfd readable with no completion queued");
    }
    return n;
  }

  void Misc() {
    switch (tape_.U8() % 4) {
      case 0:
        sef_bridge_tick(unit_);
        break;
      case 1:
        sef_bridge_reset(unit_);
        break;
      case 2: {
        sef_bridge_info info;
        SEF_FUZZ_CHECK(sef_bridge_unit_info(unit_, &info) == 0, "unit info failed");
        SEF_FUZZ_CHECK(info.abi_version == SEF_BRIDGE_ABI_VERSION && info.persistent == 0 &&
                           std::memchr(info.serial, 0, sizeof(info.serial)) != nullptr &&
                           std::memchr(info.model, 0, sizeof(info.model)) != nullptr &&
                           std::memchr(info.name, 0, sizeof(info.name)) != nullptr &&
                           info.total_adus == config_.total_adus(),
                       "unit info is malformed");
        break;
      }
      default: {
        sef_bridge_cmd in{};
        SEF_FUZZ_CHECK(sef_bridge_submit(nullptr, 0, &in, 0, 1) == -EINVAL, "NULL unit");
        SEF_FUZZ_CHECK(sef_bridge_submit(unit_, 0, nullptr, 0, 1) == -EINVAL, "NULL command");
        SEF_FUZZ_CHECK(sef_bridge_poll(nullptr, nullptr, 1) == 0, "NULL poll");
        SEF_FUZZ_CHECK(sef_bridge_poll(unit_, nullptr, 1) == 0, "NULL poll buffer");
        SEF_FUZZ_CHECK(sef_bridge_event_fd(nullptr) == -EINVAL, "NULL eventfd");
        SEF_FUZZ_CHECK(sef_bridge_unit_info(unit_, nullptr) == -EINVAL, "NULL info");
        sef_bridge_tick(nullptr);
        sef_bridge_reset(nullptr);
        break;
      }
    }
    PollAll();
  }

  sef_bridge_unit* unit_;
  FuzzTape& tape_;
  const model::UnitConfig config_;
  FakeClock clock_;  // the driver's time operations; the bridge runs on the real clock
  BridgeController controller_;
  model::testing::ModelFuzzDriver driver_;
  std::map<uint64_t, std::unique_ptr<Outstanding>> outstanding_;
  uint64_t next_tag_ = 1;
};

void BridgeController::Submit(const Command& cmd, model::CompletionCallback done) {
  fuzzer_.SubmitFromDriver(cmd, std::move(done));
}
void BridgeController::AbortOutstanding() {
  sef_bridge_reset(fuzzer_.unit());
  fuzzer_.PollAll();
}
void BridgeController::Tick() {
  sef_bridge_tick(fuzzer_.unit());
  fuzzer_.PollAll();
}

}  // namespace
}  // namespace sef::qemu_bridge

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sef::testing::FuzzTape tape(data, size);
  sef_bridge_unit* unit = nullptr;
  char err[256];
  // A RAM unit named by its spec: the last handle's close ends it, so every input starts fresh.
  const std::string spec = "model:" + sef::qemu_bridge::ConfigPath();
  const int rc = sef_bridge_open(spec.c_str(), &unit, err, sizeof(err));
  SEF_FUZZ_CHECK(rc == 0 && unit != nullptr, "sef_bridge_open: %d %s", rc, err);
  sef::qemu_bridge::BridgeFuzzer fuzzer(unit, tape);
  for (int i = 0; i < sef::qemu_bridge::kMaxRecords && !tape.empty(); ++i) fuzzer.Record();
  fuzzer.Finish();
  return 0;
}
