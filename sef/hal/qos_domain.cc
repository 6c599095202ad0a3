// QosDomain: lifetime, addresses, root pointers, super blocks. The data path (write, read,
// copy) is in qos_domain_io.cc.
#include <cstring>
#include <memory>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/hal.h"
#include "sef/hal/internal/callbacks.h"
#include "sef/hal/internal/status_of.h"
#include "sef/hal/internal/unit_events.h"

namespace sef::hal {
namespace {

absl::Status BadRootPointer(RootPointerIndex index) {
  return absl::InvalidArgumentError(absl::StrFormat("root pointer index %d is outside 0..%d",
                                                    index.value(), wire::kNumRootPointers - 1));
}

}  // namespace

QosDomain::QosDomain(Unit* unit, QosDomainId id, VirtualDeviceId vd, AddressFormat format,
                     uint32_t placement_ids, uint32_t max_adus_per_command)
    : unit_(unit),
      id_(id),
      vd_(vd),
      format_(format),
      placement_ids_(placement_ids),
      max_adus_(max_adus_per_command) {}

QosDomain::~QosDomain() {
  unit_->events_->Unsubscribe(this);
  MutexLock lock(&mu_);
  while (in_flight_ != 0) idle_.Wait(&mu_);
}

template <typename T>
Callback<T> QosDomain::Track(Callback<T> done) {
  {
    MutexLock lock(&mu_);
    ++in_flight_;
  }
  return [this, done = std::move(done)](absl::StatusOr<T> r) mutable {
    {
      internal::CallbackScope scope;
      std::move(done)(std::move(r));
    }
    Finished();
  };
}

StatusCallback QosDomain::Track(StatusCallback done) {
  {
    MutexLock lock(&mu_);
    ++in_flight_;
  }
  return [this, done = std::move(done)](absl::Status s) mutable {
    {
      internal::CallbackScope scope;
      std::move(done)(std::move(s));
    }
    Finished();
  };
}

// Instantiated for every result type of the ...Async methods.
template Callback<bool> QosDomain::Track(Callback<bool>);
template Callback<uint8_t> QosDomain::Track(Callback<uint8_t>);
template Callback<uint32_t> QosDomain::Track(Callback<uint32_t>);
template Callback<FlashAddress> QosDomain::Track(Callback<FlashAddress>);
template Callback<SuperBlockAllocation> QosDomain::Track(Callback<SuperBlockAllocation>);
template Callback<WriteResult> QosDomain::Track(Callback<WriteResult>);
template Callback<CopyResult> QosDomain::Track(Callback<CopyResult>);

void QosDomain::Finished() {
  MutexLock lock(&mu_);
  if (--in_flight_ == 0) idle_.SignalAll();
}

uint32_t QosDomain::NextPairId() {
  uint32_t id = next_pair_id_.fetch_add(1, std::memory_order_relaxed);
  while (id == 0) id = next_pair_id_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

absl::StatusOr<FlashAddress> QosDomain::AddressOf(SuperBlockId sb, AduOffset offset) const {
  return FlashAddress::Make(id_, sb, offset, format_);
}

absl::Status QosDomain::CheckOwn(SuperBlockId sb, const char* what) const {
  if (sb.value() > format_.max_super_block_id()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: super block id %u does not fit in the domain's %u-bit SB field", what,
                        sb.value(), format_.sb_bits));
  }
  return absl::OkStatus();
}

// ---- root pointers ------------------------------------------------------------------------

void QosDomain::SetRootPointerAsync(RootPointerIndex index, FlashAddress value,
                                    StatusCallback done) {
  done = Track(std::move(done));
  if (index.value() >= wire::kNumRootPointers) return std::move(done)(BadRootPointer(index));
  absl::StatusOr<Command> c = cmd::Encode(cmd::SetRootPointerRequest{id_, index.value(), value});
  if (!c.ok()) return std::move(done)(c.status());
  unit_->transport_->Submit(*c, [c = *c, done = std::move(done)](TransportResult r) mutable {
    std::move(done)(internal::StatusOf(r, c));
  });
}

absl::Status QosDomain::SetRootPointer(RootPointerIndex index, FlashAddress value) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::SetRootPointer"));
  return internal::AwaitOn<absl::Status>(*unit_->transport_, [&](StatusCallback done) {
    SetRootPointerAsync(index, value, std::move(done));
  });
}

void QosDomain::GetRootPointerAsync(RootPointerIndex index, Callback<FlashAddress> done) {
  done = Track(std::move(done));
  if (index.value() >= wire::kNumRootPointers) return std::move(done)(BadRootPointer(index));
  absl::StatusOr<Command> c = cmd::Encode(cmd::GetRootPointerRequest{id_, index.value()});
  if (!c.ok()) return std::move(done)(c.status());
  unit_->transport_->Submit(*c, [c = *c, done = std::move(done)](TransportResult r) mutable {
    absl::Status s = internal::StatusOf(r, c);
    if (!s.ok()) return std::move(done)(std::move(s));
    std::move(done)(cmd::RootPointerResult::FromResult(r.result).value);
  });
}

absl::StatusOr<FlashAddress> QosDomain::GetRootPointer(RootPointerIndex index) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::GetRootPointer"));
  return internal::AwaitOn<absl::StatusOr<FlashAddress>>(
      *unit_->transport_,
      [&](Callback<FlashAddress> done) { GetRootPointerAsync(index, std::move(done)); });
}

// ---- super blocks -------------------------------------------------------------------------

void QosDomain::AllocateSuperBlockAsync(const AllocateOp& op, Callback<SuperBlockAllocation> done) {
  done = Track(std::move(done));
  if (op.id.has_value()) {
    if (absl::Status s = CheckOwn(*op.id, "allocate super block"); !s.ok()) {
      return std::move(done)(std::move(s));
    }
  }
  absl::StatusOr<Command> c =
      cmd::Encode(cmd::SuperBlockManagementRequest{id_,
                                                   op.pslc ? wire::SbOperation::kPslcErase
                                                           : wire::SbOperation::kErase,
                                                   op.id.value_or(kDeviceChoosesSuperBlock),
                                                   0,
                                                   {}},
                  domain_format());
  if (!c.ok()) return std::move(done)(c.status());
  unit_->transport_->Submit(*c, [this, c = *c, done = std::move(done)](TransportResult r) mutable {
    absl::Status s = internal::StatusOf(r, c);
    if (!s.ok()) return std::move(done)(std::move(s));
    const cmd::EraseResult e = cmd::EraseResult::FromResult(r.result);
    absl::StatusOr<FlashAddress> address = AddressOf(e.sb);
    if (!address.ok()) return std::move(done)(address.status());
    std::move(done)(SuperBlockAllocation{e.sb, *address, e.writable_adus.value()});
  });
}

absl::StatusOr<SuperBlockAllocation> QosDomain::AllocateSuperBlock(const AllocateOp& op) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::AllocateSuperBlock"));
  return internal::AwaitOn<absl::StatusOr<SuperBlockAllocation>>(
      *unit_->transport_,
      [&](Callback<SuperBlockAllocation> done) { AllocateSuperBlockAsync(op, std::move(done)); });
}

void QosDomain::SuperBlockCommandAsync(
    wire::SbOperation op, SuperBlockId sb, const char* what,
    absl::AnyInvocable<void(absl::StatusOr<uint64_t>, const std::vector<uint8_t>& info) &&> done) {
  static const std::vector<uint8_t> kNoInfo;
  if (absl::Status s = CheckOwn(sb, what); !s.ok()) return std::move(done)(std::move(s), kNoInfo);
  // The device fills in the SB information for every operation but free.
  auto info = std::make_shared<std::vector<uint8_t>>(
      op == wire::SbOperation::kFree ? 0 : sizeof(wire::SbInfoLog), 0);
  absl::StatusOr<Command> c =
      cmd::Encode(cmd::SuperBlockManagementRequest{id_, op, sb, 0, cmd::MutableBytes::Of(*info)},
                  domain_format());
  if (!c.ok()) return std::move(done)(c.status(), kNoInfo);
  unit_->transport_->Submit(*c, [c = *c, info, done = std::move(done)](TransportResult r) mutable {
    absl::Status s = internal::StatusOf(r, c);
    if (!s.ok()) return std::move(done)(std::move(s), kNoInfo);
    std::move(done)(r.result, *info);
  });
}

void QosDomain::CloseSuperBlockAsync(SuperBlockId sb, Callback<bool> done) {
  SuperBlockCommandAsync(wire::SbOperation::kClose, sb, "close super block",
                         [done = Track(std::move(done))](absl::StatusOr<uint64_t> r,
                                                         const std::vector<uint8_t>&) mutable {
                           if (!r.ok()) return std::move(done)(std::move(r).status());
                           std::move(done)(cmd::CloseResult::FromResult(*r).closed_by_this_command);
                         });
}

absl::StatusOr<bool> QosDomain::CloseSuperBlock(SuperBlockId sb) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::CloseSuperBlock"));
  return internal::AwaitOn<absl::StatusOr<bool>>(
      *unit_->transport_, [&](Callback<bool> done) { CloseSuperBlockAsync(sb, std::move(done)); });
}

void QosDomain::FlushSuperBlockAsync(SuperBlockId sb, Callback<uint32_t> done) {
  SuperBlockCommandAsync(wire::SbOperation::kFlush, sb, "flush super block",
                         [done = Track(std::move(done))](absl::StatusOr<uint64_t> r,
                                                         const std::vector<uint8_t>& info) mutable {
                           if (!r.ok()) return std::move(done)(std::move(r).status());
                           wire::SbInfoLog log;
                           std::memcpy(&log, info.data(), sizeof(log));
                           std::move(done)(log.cap - log.aduptr);
                         });
}

absl::StatusOr<uint32_t> QosDomain::FlushSuperBlock(SuperBlockId sb) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::FlushSuperBlock"));
  return internal::AwaitOn<absl::StatusOr<uint32_t>>(
      *unit_->transport_,
      [&](Callback<uint32_t> done) { FlushSuperBlockAsync(sb, std::move(done)); });
}

void QosDomain::ReleaseSuperBlockAsync(SuperBlockId sb, StatusCallback done) {
  SuperBlockCommandAsync(wire::SbOperation::kFree, sb, "release super block",
                         [done = Track(std::move(done))](absl::StatusOr<uint64_t> r,
                                                         const std::vector<uint8_t>&) mutable {
                           std::move(done)(std::move(r).status());
                         });
}

absl::Status QosDomain::ReleaseSuperBlock(SuperBlockId sb) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::ReleaseSuperBlock"));
  return internal::AwaitOn<absl::Status>(*unit_->transport_, [&](StatusCallback done) {
    ReleaseSuperBlockAsync(sb, std::move(done));
  });
}

void QosDomain::CheckSuperBlockAsync(SuperBlockId sb, Callback<uint8_t> done) {
  SuperBlockCommandAsync(wire::SbOperation::kPatrol, sb, "check super block",
                         [done = Track(std::move(done))](absl::StatusOr<uint64_t> r,
                                                         const std::vector<uint8_t>&) mutable {
                           if (!r.ok()) return std::move(done)(std::move(r).status());
                           std::move(done)(cmd::PatrolResult::FromResult(*r).integrity_index);
                         });
}

absl::StatusOr<uint8_t> QosDomain::CheckSuperBlock(SuperBlockId sb) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::CheckSuperBlock"));
  return internal::AwaitOn<absl::StatusOr<uint8_t>>(
      *unit_->transport_,
      [&](Callback<uint8_t> done) { CheckSuperBlockAsync(sb, std::move(done)); });
}

absl::StatusOr<std::vector<SuperBlockEntry>> QosDomain::ListSuperBlocks(SbListOrder order) {
  std::vector<SuperBlockEntry> out;
  constexpr uint32_t kPage = 4096;
  for (uint64_t offset = 0;; offset += kPage) {
    SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> page,
                         unit_->AdminData(cmd::SuperBlockListLogRequest{id_, order, offset, {}},
                                          kPage, "QosDomain::ListSuperBlocks"));
    for (uint32_t at = 0; at + sizeof(wire::SbListEntry) <= page.size();
         at += sizeof(wire::SbListEntry)) {
      wire::SbListEntry e;
      std::memcpy(&e, page.data() + at, sizeof(e));
      if (e.sbid == wire::kSbListEnd) return out;
      out.push_back({SuperBlockId(e.sbid), SuperBlockStateFromBits(e.sbs),
                     (e.sbs & wire::kSbsPslc) != 0, e.peci});
    }
  }
}

absl::StatusOr<SuperBlockDetails> QosDomain::GetSuperBlockInfo(SuperBlockId sb) {
  SEF_RETURN_IF_ERROR(CheckOwn(sb, "super block information"));
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                       unit_->AdminData(cmd::SuperBlockInfoLogRequest{vd_, sb, false, {}},
                                        sizeof(wire::SbInfoLog), "QosDomain::GetSuperBlockInfo"));
  wire::SbInfoLog log;
  std::memcpy(&log, bytes.data(), sizeof(log));
  if (log.qosdid != id_.value()) {
    return absl::NotFoundError(
        absl::StrFormat("super block %u is not held by QoS domain %u", sb.value(), id_.value()));
  }
  SuperBlockDetails d;
  d.id = sb;
  SEF_ASSIGN_OR_RETURN(d.address, AddressOf(sb));
  d.state = SuperBlockStateFromBits(log.sbs);
  d.pslc = (log.sbs & wire::kSbsPslc) != 0;
  d.placement = PlacementId(log.pid);
  d.capacity_adus = log.cap;
  d.written_adus = log.aduptr;
  d.erase_serial = log.esn;
  d.erase_count_index = log.peci;
  d.integrity = log.dii;
  d.minutes_left = log.tl;
  return d;
}

absl::StatusOr<std::vector<UserAddress>> QosDomain::GetUserAddressList(SuperBlockId sb) {
  SEF_ASSIGN_OR_RETURN(SuperBlockDetails details, GetSuperBlockInfo(sb));
  std::vector<UserAddress> out;
  constexpr uint32_t kChunk = 64 * 1024;  // bytes per log read
  const uint64_t total = uint64_t{details.capacity_adus} * 8;
  for (uint64_t offset = 0; offset < total; offset += kChunk) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kChunk, total - offset));
    SEF_ASSIGN_OR_RETURN(
        std::vector<uint8_t> bytes,
        unit_->AdminData(cmd::UserAddressListLogRequest{id_, sb, static_cast<uint32_t>(offset), {}},
                         n, "QosDomain::GetUserAddressList"));
    for (uint32_t at = 0; at < n; at += 8) {
      uint64_t ua;
      std::memcpy(&ua, bytes.data() + at, 8);
      out.push_back(UserAddress::FromRaw(ua));
    }
  }
  return out;
}

}  // namespace sef::hal
