// The mixed workload and oracle of the model's crash suite (model_power_loss_test.cc).
//
// A tiny unit with a volatile write cache, one VD of its four dies (two per SB: 32 SBs of 64
// ADUs in 8-ADU die pages; pSLC SBs of 16) and several QoS domains. The workload picks
// operations from what the oracle knows (writes by placement id and into given SBs, FUA,
// erases, Super Block Flush, NVM Flush, closes, copies, frees, root pointers), runs them
// through a ModelHarness, and the oracle applies their effects: what was acknowledged and
// what was durable (docs/model.md, "Power loss", written out again here by page). After a cut,
// Check compares the unit with the oracle, then adopts what survived.
//
// Op and Effect are trivially copyable, so that a child process can send them through a pipe.
// Thread-safety: none; one thread drives one oracle.
#ifndef SEF_HAL_MODEL_TESTING_POWER_LOSS_WORKLOAD_H_
#define SEF_HAL_MODEL_TESTING_POWER_LOSS_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sef/hal/model/testing/harness.h"

namespace sef::model::testing {

// Generic 0x05, Command Aborted due to Power Loss Notification.
NvmeStatus PowerLoss();

namespace power_loss {

inline constexpr VirtualDeviceId kVd(1);
inline constexpr uint32_t kSuperBlocks = 32;
inline constexpr uint32_t kSbAdus = 64;
inline constexpr uint32_t kPslcSbAdus = 16;

// testdata/units/tiny.json with `cache` and `npsi` pages to secure integrity, and room for 8
// open SBs per domain.
UnitConfig Unit(WriteCache cache, uint32_t npsi = 1);

// The VD (3 pSLC SBs) and `domains` attached QoS domains (9 SBs and 1 pSLC SB of capacity
// each, 2 placement ids, 8 open SBs); their formats are pinned in `h`.
std::vector<QosDomainId> Provision(ModelHarness& h, int domains);

enum class OpKind : uint8_t {
  kWritePlacement,
  kWriteSb,
  kErase,
  kFlush,
  kClose,
  kCopy,
  kFree,
  kNvmFlush,
  kSetRoot,
};

inline constexpr int kMaxAdus = 12;
inline constexpr int kMaxSources = 6;

struct Op {
  OpKind kind = OpKind::kNvmFlush;
  uint8_t domain_index = 0;
  uint8_t placement = 0;
  bool pslc = false;
  bool fua = false;
  uint32_t sb = 0;    // write, SBM, copy destination
  uint32_t adus = 0;  // writes
  uint64_t lba = 0;   // first LBA written; kSetRoot: the value
  uint8_t root_index = 0;
  uint32_t sources = 0;  // copy
  uint16_t source_domain[kMaxSources] = {};
  uint32_t source_sb[kMaxSources] = {};
  uint32_t source_offset[kMaxSources] = {};
  uint64_t source_lba[kMaxSources] = {};
};
static_assert(std::is_trivially_copyable_v<Op>);

struct Effect {
  bool power_lost = false;  // a command of the op met a power cut: the op did nothing
  bool ok = false;          // completed (a write that filled its SB: partially)
  uint32_t placed = 0;      // ADUs written or copied, in order
  uint32_t placed_sb[kMaxAdus] = {};
  uint32_t placed_offset[kMaxAdus] = {};
  uint64_t placed_lba[kMaxAdus] = {};
  uint32_t erased_sb = 0;
  uint32_t erased_capacity = 0;
};
static_assert(std::is_trivially_copyable_v<Effect>);

// What the test knows of one super block.
struct SbModel {
  uint16_t domain = 0;
  uint32_t capacity = 0;
  bool closed = false;
  std::vector<uint64_t> lbas;  // the LBA of each acknowledged ADU, in offset order
  uint32_t durable = 0;        // no power cut may take these
};

// The page-program rule written out page by page: the durable prefix of an SB of `capacity`
// ADUs (two dies, 8-ADU pages) holding `written`.
uint32_t DurableByPages(uint32_t written, uint32_t capacity, uint32_t npsi);

// What the checks met, so that a suite can show it exercised the rule, not only survived it.
struct Stats {
  uint64_t ops[9] = {};    // completed, by OpKind
  uint64_t cuts = 0;       // checks
  uint64_t lost = 0;       // acknowledged ADUs that vanished (all above their durable pointer)
  uint64_t kept = 0;       // acknowledged ADUs above their durable pointer that survived
  uint64_t in_flight = 0;  // ADUs of an unreported operation found on the unit
  std::string ToString() const;
};

class Oracle {
 public:
  Oracle(uint32_t npsi, std::vector<QosDomainId> domains)
      : npsi_(npsi), domains_(std::move(domains)) {}

  const std::vector<QosDomainId>& domains() const { return domains_; }
  const Stats& stats() const { return stats_; }
  // Records an operation that completed (Effect::power_lost false). Fails the test when an
  // operation that cannot fail did, or the unit put an ADU where no write could.
  void Apply(const Op& op, const Effect& e);

 private:
  friend Op Choose(const Oracle& o, std::mt19937_64& rng);
  friend bool Check(ModelHarness& h, Oracle& o, const Op* in_flight, const std::string& where);
  void Settle(SbModel& sb, bool fua) const;

  uint32_t npsi_;
  std::vector<QosDomainId> domains_;
  std::map<uint32_t, SbModel> sbs_;  // by SB id of the one VD
  std::map<std::pair<uint16_t, uint8_t>, uint64_t> roots_;
  uint64_t next_lba_ = 1;  // every LBA is written once
  Stats stats_;
};

// The next operation, from what `o` knows.
Op Choose(const Oracle& o, std::mt19937_64& rng);
// Runs `op`; an op that meets a power cut returns power_lost.
Effect Execute(ModelHarness& h, const Oracle& o, const Op& op);
// After a power cut and recovery: checks the unit against the rule and the oracle, then makes
// the oracle what survived. `in_flight`: the operation a killed process had started and not
// reported (any part of it may have happened), or nullptr. False when a check failed.
bool Check(ModelHarness& h, Oracle& o, const Op* in_flight, const std::string& where);

}  // namespace power_loss
}  // namespace sef::model::testing

#endif  // SEF_HAL_MODEL_TESTING_POWER_LOSS_WORKLOAD_H_
