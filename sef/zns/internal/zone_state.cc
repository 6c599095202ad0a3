#include "sef/zns/internal/zone_state.h"

#include "sef/hal/cmd/wire.h"

namespace sef::zns {

const char* ZoneStateName(ZoneState s) {
  switch (s) {
    case ZoneState::kEmpty:
      return "Empty";
    case ZoneState::kImplicitlyOpen:
      return "Implicitly Open";
    case ZoneState::kExplicitlyOpen:
      return "Explicitly Open";
    case ZoneState::kClosed:
      return "Closed";
    case ZoneState::kReadOnly:
      return "Read Only";
    case ZoneState::kFull:
      return "Full";
    case ZoneState::kOffline:
      return "Offline";
  }
  return "(unknown zone state)";
}

const char* ZoneActionName(ZoneAction a) {
  switch (a) {
    case ZoneAction::kClose:
      return "Close";
    case ZoneAction::kFinish:
      return "Finish";
    case ZoneAction::kOpen:
      return "Open";
    case ZoneAction::kReset:
      return "Reset";
    case ZoneAction::kOffline:
      return "Offline";
  }
  return "(unknown zone action)";
}

namespace internal {

namespace sc = wire::sc;

NvmeStatus ZoneStatus(uint8_t code) {
  return NvmeStatus(static_cast<uint8_t>(wire::StatusCodeType::kCommandSpecific), code, true);
}
NvmeStatus GenericStatus(uint8_t code) {
  return NvmeStatus(static_cast<uint8_t>(wire::StatusCodeType::kGeneric), code, true);
}

const char* ZoneEventName(ZoneEvent e) {
  switch (e) {
    case ZoneEvent::kOpen:
      return "Open";
    case ZoneEvent::kClose:
      return "Close";
    case ZoneEvent::kFinish:
      return "Finish";
    case ZoneEvent::kReset:
      return "Reset";
    case ZoneEvent::kOffline:
      return "Offline";
    case ZoneEvent::kWrite:
      return "Write";
  }
  return "(unknown zone event)";
}

bool IsOpen(ZoneState s) {
  return s == ZoneState::kImplicitlyOpen || s == ZoneState::kExplicitlyOpen;
}
bool IsActive(ZoneState s) { return IsOpen(s) || s == ZoneState::kClosed; }

NvmeStatus WriteStateStatus(ZoneState state) {
  switch (state) {
    case ZoneState::kFull:
      return ZoneStatus(sc::kZoneIsFull);
    case ZoneState::kReadOnly:
      return ZoneStatus(sc::kZoneIsReadOnly);
    case ZoneState::kOffline:
      return ZoneStatus(sc::kZoneIsOffline);
    default:
      return NvmeStatus::Success();
  }
}

NvmeStatus ReadStateStatus(ZoneState state) {
  return state == ZoneState::kOffline ? ZoneStatus(sc::kZoneIsOffline) : NvmeStatus::Success();
}

namespace {

// Opening a zone from Empty (`activate`: it takes an active resource too) or Closed:
// nvme_zrm_open_flags. The auto transition first, then active before open.
ZoneDecision OpenFrom(bool activate, ZoneState next, const ZoneResources& r) {
  ZoneDecision d;
  uint32_t open = r.open;
  if (open >= r.max_open && r.implicitly_open_exists) {
    d.auto_close = true;
    --open;
  }
  if (activate && r.active + 1 > r.max_active) {
    d.status = ZoneStatus(sc::kTooManyActiveZones);
  } else if (open + 1 > r.max_open) {
    d.status = ZoneStatus(sc::kTooManyOpenZones);
  } else {
    d.next = next;
  }
  return d;
}

ZoneDecision To(ZoneState next) {
  ZoneDecision d;
  d.next = next;
  return d;
}

ZoneDecision Refuse(NvmeStatus status) {
  ZoneDecision d;
  d.status = status;
  return d;
}

}  // namespace

ZoneDecision Decide(ZoneState state, ZoneEvent event, const ZoneResources& r) {
  using S = ZoneState;
  const ZoneDecision invalid = Refuse(ZoneStatus(sc::kInvalidZoneStateTransition));
  switch (event) {
    case ZoneEvent::kWrite:
      if (NvmeStatus s = WriteStateStatus(state); !s.ok()) return Refuse(s);
      if (state == S::kEmpty) return OpenFrom(true, S::kImplicitlyOpen, r);
      if (state == S::kClosed) return OpenFrom(false, S::kImplicitlyOpen, r);
      return To(state);  // implicitly or explicitly open: stays
    case ZoneEvent::kOpen:
      switch (state) {
        case S::kEmpty:
          return OpenFrom(true, S::kExplicitlyOpen, r);
        case S::kClosed:
          return OpenFrom(false, S::kExplicitlyOpen, r);
        case S::kImplicitlyOpen:
        case S::kExplicitlyOpen:
          return To(S::kExplicitlyOpen);
        default:
          return invalid;
      }
    case ZoneEvent::kClose:
      if (IsActive(state)) return To(S::kClosed);
      return invalid;
    case ZoneEvent::kFinish:
      if (IsActive(state) || state == S::kEmpty || state == S::kFull) return To(S::kFull);
      return invalid;
    case ZoneEvent::kReset:
      if (IsActive(state) || state == S::kEmpty || state == S::kFull) return To(S::kEmpty);
      return invalid;
    case ZoneEvent::kOffline:
      if (state == S::kReadOnly || state == S::kOffline) return To(S::kOffline);
      return invalid;
  }
  return invalid;
}

bool SelectedByAll(ZoneAction action, ZoneState state) {
  switch (action) {
    case ZoneAction::kOpen:
      return state == ZoneState::kClosed;
    case ZoneAction::kClose:
      return IsOpen(state);
    case ZoneAction::kFinish:
      return IsActive(state);
    case ZoneAction::kReset:
      return IsActive(state) || state == ZoneState::kFull;
    case ZoneAction::kOffline:
      return state == ZoneState::kReadOnly;
  }
  return false;
}

bool MatchesFilter(ReportFilter filter, ZoneState state) {
  switch (filter) {
    case ReportFilter::kAll:
      return true;
    case ReportFilter::kEmpty:
      return state == ZoneState::kEmpty;
    case ReportFilter::kImplicitlyOpen:
      return state == ZoneState::kImplicitlyOpen;
    case ReportFilter::kExplicitlyOpen:
      return state == ZoneState::kExplicitlyOpen;
    case ReportFilter::kClosed:
      return state == ZoneState::kClosed;
    case ReportFilter::kFull:
      return state == ZoneState::kFull;
    case ReportFilter::kReadOnly:
      return state == ZoneState::kReadOnly;
    case ReportFilter::kOffline:
      return state == ZoneState::kOffline;
  }
  return false;
}

}  // namespace internal
}  // namespace sef::zns
