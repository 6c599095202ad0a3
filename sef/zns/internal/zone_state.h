// The zone state machine of NVMe ZNS, as a pure decision: what an action does to a zone in a
// given state, with the open and active resource limits, or the NVMe status that refuses it.
// The namespace applies a decision with its one state-assignment function
// (Namespace::SetZoneState), which also keeps the resource counts.
//
// It follows NVMe ZNS and stock QEMU 7.2 (hw/nvme/ctrl.c: nvme_zrm_open_flags, _close,
// _finish, _reset, nvme_offline_zone, nvme_check_zone_state_for_write), including QEMU's
// default "auto transition": opening a zone when every open resource is taken first closes
// the implicitly open zone that was opened longest ago. docs/zns.md has the table.
//
// Thread-safety: pure functions.
#ifndef SEF_ZNS_INTERNAL_ZONE_STATE_H_
#define SEF_ZNS_INTERNAL_ZONE_STATE_H_

#include <cstdint>

#include "sef/hal/cmd/command.h"
#include "sef/zns/zns.h"

namespace sef::zns::internal {

// What happens to one zone.
enum class ZoneEvent : uint8_t {
  kOpen,     // Zone Management Send: Open (explicit open)
  kClose,    // ... Close
  kFinish,   // ... Finish
  kReset,    // ... Reset
  kOffline,  // ... Offline
  kWrite,    // a write or append reaching the zone (implicit open)
};
const char* ZoneEventName(ZoneEvent e);

// Open zones (implicitly + explicitly open) and active zones (open + closed), counted as
// NVMe counts them, with their limits.
struct ZoneResources {
  uint32_t open = 0, active = 0;
  uint32_t max_open = 0, max_active = 0;
  bool implicitly_open_exists = false;  // a candidate for the auto transition
};

struct ZoneDecision {
  NvmeStatus status;                   // success, or the refusal (DNR set)
  ZoneState next = ZoneState::kEmpty;  // when status is success
  // Close the implicitly open zone opened longest ago first (QEMU's auto transition). Done
  // even when the decision then refuses for lack of active resources, as QEMU does.
  bool auto_close = false;
};

ZoneDecision Decide(ZoneState state, ZoneEvent event, const ZoneResources& resources);

// For writes and appends, the refusal of the zone's state alone (Zone Is Full / Read Only /
// Offline), checked before the write pointer and boundary; success otherwise.
NvmeStatus WriteStateStatus(ZoneState state);

// Reads of an offline zone are refused (Zone Is Offline); every other state reads.
NvmeStatus ReadStateStatus(ZoneState state);

bool IsOpen(ZoneState s);
bool IsActive(ZoneState s);  // open or closed: holds active resources

// Whether a zone in `state` is one that `action` with the "select all" flag works on.
bool SelectedByAll(ZoneAction action, ZoneState state);

// Whether `filter` lists a zone in `state`.
bool MatchesFilter(ReportFilter filter, ZoneState state);

// The NVMe statuses of the zoned command set, DNR set as QEMU sends them.
NvmeStatus ZoneStatus(uint8_t sc);     // SCT 1 (command specific)
NvmeStatus GenericStatus(uint8_t sc);  // SCT 0

}  // namespace sef::zns::internal

#endif  // SEF_ZNS_INTERNAL_ZONE_STATE_H_
