// What a host knows of a zoned namespace's zones across power cuts, and the check that a
// namespace mounted after a restart agrees with it (docs/zns.md, "What a crash leaves"). Used
// by ZnsPowerLossTest and zns_fuzzer.
//
//   ZoneOracle oracle(ns->geometry());
//   if (ns->Write(Lba(oracle.Zslba(z) + oracle.zone(z).acked), n, data, fua).ok())
//     oracle.Acknowledged(z, oracle.zone(z).acked, n, /*key=*/lba, fua);
//   ... power cut, restart, Mount ...
//   std::string why = oracle.CheckAfterRestart(*ns, unit, domain);   // empty: allowed
//
// Block contents: block i of a write acknowledged with `key` repeats the 8-byte word
// Word(key, i) (testing::FillBlock(block, key + i, 1) writes it); a block of zeros was never
// written.
//
// Thread-safety: none (the test's thread).
#ifndef SEF_ZNS_TESTING_ZONE_ORACLE_H_
#define SEF_ZNS_TESTING_ZONE_ORACLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sef/hal/hal.h"
#include "sef/zns/zns.h"

namespace sef::zns::testing {

// What the host knows of one zone: the content of each block it was acknowledged, and what
// must survive a cut.
struct ZoneModel {
  std::vector<uint64_t> word;  // per block: the word its content repeats; 0 = nothing
  uint32_t acked = 0;          // blocks acknowledged (the host's write pointer)
  uint32_t durable = 0;        // blocks that must survive: FUA, flush, finish, fill
  bool full = false;           // Full, durably (a finish acknowledged, or filled durably)
  bool finish_unsure = false;  // a finish failed at the cut: it may have happened
  // A reset failed at the cut: the zone may be as before it.
  std::shared_ptr<ZoneModel> before_reset;
};

class ZoneOracle {
 public:
  explicit ZoneOracle(const Geometry& g);

  static uint64_t Word(uint64_t key, uint32_t i) { return ((key + i) << 20) | 1; }

  const Geometry& geometry() const { return g_; }
  uint64_t Zslba(uint32_t zone) const { return uint64_t{zone} * g_.zone_size; }
  uint32_t Cap() const { return static_cast<uint32_t>(g_.zone_capacity); }
  const ZoneModel& zone(uint32_t z) const { return zones_.at(z); }

  // Blocks [start, start + n) of `zone` were acknowledged, block i holding Word(key, i).
  void Acknowledged(uint32_t zone, uint32_t start, uint32_t n, uint64_t key, bool fua);
  // A flush (or an unmount) succeeded: every acknowledged block is durable.
  void Flushed();
  // The outcome of a Finish / Reset of `zone`. A refusal (a ZNS status, SCT 1) changes
  // nothing; a device failure (a power cut) may or may not have done it.
  void Finished(uint32_t zone, const absl::Status& s);
  void Reset(uint32_t zone, const absl::Status& s);

  // While the power is on, the acknowledged blocks of `zone` read back. An error when the
  // read fails; else why what was read differs, empty when it does not.
  absl::StatusOr<std::string> ReadBack(ZonedNamespace& ns, uint32_t zone) const;

  // After a restart and a Mount of `domain` on `unit`: why the state and the data of a zone
  // are not allowed by what was acknowledged and durable, or a super block is left over;
  // empty when everything is allowed. Then each zone is what was recovered, all of it durable.
  std::string CheckAfterRestart(ZonedNamespace& ns, hal::Unit& unit, QosDomainId domain);

  // Zones found Empty, Closed, Full by CheckAfterRestart; blocks of data it verified.
  uint64_t seen(int i) const { return seen_[i]; }
  uint64_t verified() const { return verified_; }

 private:
  std::string Disallowed(const ZoneModel& m, ZoneState state, uint32_t n,
                         const std::vector<uint64_t>& read) const;
  std::string CheckZone(ZonedNamespace& ns, uint32_t zone, bool& holding);

  Geometry g_;
  std::vector<ZoneModel> zones_;
  uint64_t seen_[3] = {0, 0, 0};
  uint64_t verified_ = 0;
};

}  // namespace sef::zns::testing

#endif  // SEF_ZNS_TESTING_ZONE_ORACLE_H_
