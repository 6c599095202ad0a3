// I/O commands: Super Block Management, FAR+NLW pairs, Read, NLC+GCR pairs.
#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "sef/hal/cmd/results.h"
#include "sef/hal/model/internal/model.h"

namespace sef::model::internal {
namespace {

using wire::StatusCodeType;
namespace sc = wire::sc;

Outcome CapacityExceeded() { return Fail(StatusCodeType::kGeneric, sc::kCapacityExceeded); }
Outcome Unwritten() {
  return Fail(StatusCodeType::kMediaAndDataIntegrity, sc::kDeallocatedOrUnwritten);
}
Outcome AccessDenied() { return Fail(StatusCodeType::kMediaAndDataIntegrity, sc::kAccessDenied); }
Outcome CompareFailure() {
  return Fail(StatusCodeType::kMediaAndDataIntegrity, sc::kCompareFailure);
}
Outcome PartialWrite(uint32_t not_written) {
  Outcome o = Fail(StatusCodeType::kVendorSpecific, sc::kPartialWrite);
  o.result = cmd::NlwResult{not_written, 0}.ToResult();
  return o;
}

// Walks a scatter list in ADU-sized steps.
class IovCursor {
 public:
  explicit IovCursor(const cmd::IoVecs& v) : v_(v) {}
  // Copies `n` bytes of `flat` into the scatter list.
  void Write(const uint8_t* flat, size_t n) {
    while (n > 0 && index_ < v_.count) {
      const size_t take = std::min(n, v_.iov[index_].iov_len - offset_);
      std::memcpy(static_cast<uint8_t*>(v_.iov[index_].iov_base) + offset_, flat, take);
      flat += take;
      n -= take;
      Advance(take);
    }
  }
  // Appends the pieces of the next `n` bytes to `out` and steps over them.
  void Take(size_t n, std::vector<iovec>& out) {
    while (n > 0 && index_ < v_.count) {
      const iovec& iov = v_.iov[index_];
      const size_t take = std::min(n, iov.iov_len - offset_);
      if (take > 0) out.push_back({static_cast<uint8_t*>(iov.iov_base) + offset_, take});
      n -= take;
      Advance(take);
    }
  }

 private:
  void Advance(size_t n) {
    offset_ += n;
    if (offset_ == v_.iov[index_].iov_len) {
      ++index_;
      offset_ = 0;
    }
  }
  cmd::IoVecs v_;
  uint32_t index_ = 0;
  size_t offset_ = 0;
};

bool IsOpen(SbState s) { return s == SbState::kOpenByErase || s == SbState::kOpenByPlacement; }

// NLWID or NLCID of a pair's half.
uint32_t PairId(const cmd::IoRequest& r) {
  if (const auto* v = std::get_if<cmd::FlashAddressRequest>(&r)) return v->nlwid;
  if (const auto* v = std::get_if<cmd::NamelessWriteRequest>(&r)) return v->nlwid;
  if (const auto* v = std::get_if<cmd::NamelessCopyRequest>(&r)) return v->nlcid;
  return std::get<cmd::GetCopyResultRequest>(r).nlcid;
}

// Completes the half of a pair that waited (through `out`) and returns the current one's
// outcome. `current_is_first`: the command being executed is the FAR/NLC.
Outcome Route(bool current_is_first, CompletionCallback waited, const Outcome& first,
              const Outcome& second, Completions& out) {
  const Outcome& waited_outcome = current_is_first ? second : first;
  out.emplace_back(std::move(waited), Completion{waited_outcome.result, waited_outcome.status});
  return current_is_first ? first : second;
}

}  // namespace

Outcome Model::ExecuteIo(const Command& c, CompletionCallback& done, Completions& out,
                         bool& parked) {
  if (c.opcode() == wire::kNvmFlushOpcode && c.nsid() == wire::kNsidBroadcast) {
    for (auto& each : domains_) {  // every attached domain (VWC bits 2:1 = 11b)
      if (each == nullptr || !each->rec.attached) continue;
      MutexLock lock(&each->mu);
      NvmFlush(*each);
    }
    return Outcome::Ok();
  }
  Domain* d = FindDomain(c.nsid());
  if (d == nullptr || !d->rec.attached) return InvalidNamespace();
  if (c.opcode() == wire::kNvmFlushOpcode) {
    MutexLock lock(&d->mu);
    return NvmFlush(*d);
  }
  absl::StatusOr<cmd::IoRequest> decoded = cmd::DecodeIo(c, d->format);
  if (!decoded.ok()) {
    return decoded.status().code() == absl::StatusCode::kUnimplemented
               ? Fail(StatusCodeType::kGeneric, sc::kInvalidOpcode)
               : InvalidField();
  }
  cmd::IoRequest& r = *decoded;
  if (const auto* v = std::get_if<cmd::SuperBlockManagementRequest>(&r)) {
    MutexLock lock(&d->mu);
    return SuperBlockManagement(*d, *v);
  }
  if (const auto* v = std::get_if<cmd::ReadRequest>(&r)) {
    MutexLock lock(&d->mu);
    return Read(*d, *v);
  }
  // Pairs: FAR+NLW and NLC+GCR, matched by (NSID, NLWID/NLCID). Whichever half arrives
  // first waits for the other (either order, any queue: capability bits 9 and 10), so a host
  // whose kernel reorders the two halves (an io_uring command punted to a worker, another
  // hardware queue) is not failed; the unpaired timeout covers both halves alike.
  const bool write_pair = std::holds_alternative<cmd::FlashAddressRequest>(r) ||
                          std::holds_alternative<cmd::NamelessWriteRequest>(r);
  const bool is_first = std::holds_alternative<cmd::FlashAddressRequest>(r) ||
                        std::holds_alternative<cmd::NamelessCopyRequest>(r);
  PendingCommand other;
  {
    const uint32_t id = PairId(r);
    MutexLock lock(&d->mu);
    auto& pending = write_pair ? d->pending_writes : d->pending_copies;
    auto it = pending.find(id);
    if (it == pending.end()) {
      auto& aborted = write_pair ? d->aborted_writes : d->aborted_copies;
      if (auto a = aborted.find(id); a != aborted.end()) {
        const bool partner_aborted = a->second.first != is_first;
        aborted.erase(a);  // a half of the same kind: the host has moved on to a new pair
        if (partner_aborted) return SequenceError();
      }
      pending.emplace(id, PendingCommand{clock_->NowNanos(), std::move(done), std::move(r)});
      parked = true;
      return Outcome::Ok();
    }
    // The same half twice under one id (two FARs, two NLWs, ...) is a conflict.
    if (IsFirstOfPair(it->second.request) == is_first) {
      return Fail(StatusCodeType::kGeneric, sc::kCommandIdConflict);
    }
    other = std::move(it->second);
    pending.erase(it);
  }
  // `first` and `second` are the FAR/NLC and NLW/GCR; the one that waited completes via `out`.
  const cmd::IoRequest& first = is_first ? r : other.request;
  const cmd::IoRequest& second = is_first ? other.request : r;
  if (write_pair) {
    Outcome far_outcome;
    Outcome nlw_outcome;
    {
      MutexLock lock(&d->mu);
      nlw_outcome = Write(*d, std::get<cmd::FlashAddressRequest>(first),
                          std::get<cmd::NamelessWriteRequest>(second), far_outcome);
    }
    return Route(is_first, std::move(other.done), far_outcome, nlw_outcome, out);
  }
  const auto& gcr = std::get<cmd::GetCopyResultRequest>(second);
  const auto& nlc = std::get<cmd::NamelessCopyRequest>(first);
  // A copy may read other domains: lock every domain involved, in id order.
  std::set<uint16_t> ids{d->id.value()};
  if (const auto* list = std::get_if<cmd::CopyList>(&nlc.source)) {
    for (FlashAddress a : list->addresses) ids.insert(a.domain().value());
  } else {
    ids.insert(std::get<cmd::CopyBitmap>(nlc.source).start.domain().value());
  }
  std::vector<Mutex*> locked;
  for (uint16_t id : ids) {
    if (Domain* s = FindDomain(id)) locked.push_back(&s->mu);
  }
  Outcome nlc_outcome;
  const Outcome gcr_outcome = CopyLocked(locked, *d, nlc, gcr, nlc_outcome);
  return Route(is_first, std::move(other.done), nlc_outcome, gcr_outcome, out);
}

// ---- super block management -------------------------------------------------------------------

std::optional<Outcome> Model::Allocate(Domain& d, bool pslc, std::optional<uint32_t> wanted,
                                       SbState state, uint16_t placement, uint32_t& out_sb) {
  Vd& vd = *d.vd;
  if (pslc && (!options_.config.pslc || options_.config.adus_per_block() < 4)) {
    return InvalidField();
  }
  const uint32_t capacity = SbCapacity(vd, pslc);
  const uint64_t used = pslc ? d.used_pslc_plane_pages : d.used_plane_pages;
  const uint64_t quota = pslc ? d.rec.pslc_quota : d.rec.quota;
  if (used + PlanePages(capacity) > quota) return CapacityExceeded();
  if (d.open_sbs.size() >= d.rec.max_open_super_blocks) {
    return Fail(StatusCodeType::kCommandSpecific, sc::kTooManyOpenSuperBlocks);
  }
  uint32_t id = 0;
  uint32_t serial = 0;
  {
    MutexLock lock(&vd.mu);
    if (pslc && vd.pslc_in_use >= vd.pslc_super_blocks) return CapacityExceeded();
    if (wanted.has_value()) {
      if (*wanted >= vd.sbs.size()) return InvalidField();
      auto it = std::find(vd.free_list.begin(), vd.free_list.end(), *wanted);
      if (it == vd.free_list.end()) return SequenceError();  // the SB is not free
      vd.free_list.erase(it);
      id = *wanted;
    } else {
      if (vd.free_list.empty()) return CapacityExceeded();
      id = vd.free_list.front();
      vd.free_list.pop_front();
    }
    if (pslc) ++vd.pslc_in_use;
    serial = ++vd.erase_serial;
    vd.sbs[id].owner.store(d.id.value(), std::memory_order_release);
  }
  UpdateCriticalWarning(vd);
  SuperBlock& sb = vd.sbs[id];
  sb.rec.flags = pslc ? kSbFlagPslc : 0;
  sb.capacity = capacity;
  sb.written = 0;
  sb.synced = 0;
  sb.rec.durable = 0;
  // Erasing forgets every ADU of the SB: their "written" markers go back to zero. The
  // record still says Free until SetSbState writes it, so a crash here loses nothing.
  ForEachRun(vd, id, 0, capacity, [this](uint64_t first, uint32_t n) {
    std::memset(media_->info(first), 0, n * sizeof(AduInfo));
  });
  sb.rec.domain = d.id.value();
  sb.rec.vd = vd.id.value();
  sb.rec.sb_id = id;
  sb.rec.placement_id = placement;
  sb.rec.erase_serial = serial;
  ++sb.rec.erase_count;
  SetSbState(d, id, state, 0);
  out_sb = id;
  return std::nullopt;
}

Outcome Model::SuperBlockManagement(Domain& d, const cmd::SuperBlockManagementRequest& r) {
  Vd& vd = *d.vd;
  const bool erase = r.op == wire::SbOperation::kErase || r.op == wire::SbOperation::kPslcErase;
  if (erase) {
    std::optional<uint32_t> wanted;
    if (r.sb != kDeviceChoosesSuperBlock) wanted = r.sb.value();
    uint32_t id = 0;
    if (auto failed = Allocate(d, r.op == wire::SbOperation::kPslcErase, wanted,
                               SbState::kOpenByErase, 0xFFFF, id)) {
      return *failed;
    }
    if (r.buffer.size != 0) {
      wire::SbInfoLog info;
      FillSbInfo(vd, id, 0, info);
      std::memset(r.buffer.data, 0, r.buffer.size);
      std::memcpy(r.buffer.data, &info, std::min<size_t>(sizeof(info), r.buffer.size));
    }
    return Outcome::Ok(
        cmd::EraseResult{SuperBlockId(id), AduCount(vd.sbs[id].capacity)}.ToResult());
  }
  const uint32_t id = r.sb.value();
  if (id >= vd.sbs.size() || vd.sbs[id].owner.load(std::memory_order_acquire) != d.id.value()) {
    return InvalidField();  // not a super block of this domain
  }
  SuperBlock& sb = vd.sbs[id];
  uint64_t result = 0;
  switch (r.op) {
    case wire::SbOperation::kClose: {
      const bool closing = IsOpen(sb.state());
      if (closing) SetSbState(d, id, SbState::kClosed, ClosedTransition(sb));
      result = cmd::CloseResult{SuperBlockId(id), closing}.ToResult();
      break;
    }
    case wire::SbOperation::kFree:
      SetSbState(d, id, SbState::kFree, 0);
      return Outcome::Ok(cmd::FreeResult{SuperBlockId(id)}.ToResult());
    case wire::SbOperation::kPatrol:
      sb.rec.flags &= ~kSbFlagNeedsPatrol;
      sb.rec.state_since_seconds = clock_->NowSeconds();
      PersistSb(vd, id);
      result = cmd::PatrolResult{0}.ToResult();  // the model's media never degrades
      break;
    case wire::SbOperation::kFlush:
      Commit(vd, id);
      result = cmd::CloseResult{SuperBlockId(id), false}.ToResult();
      break;
    default:
      return InvalidField();
  }
  if (r.buffer.size != 0) {
    wire::SbInfoLog info;
    FillSbInfo(vd, id, 0, info);
    std::memset(r.buffer.data, 0, r.buffer.size);
    std::memcpy(r.buffer.data, &info, std::min<size_t>(sizeof(info), r.buffer.size));
  }
  return Outcome::Ok(result);
}

// Every open SB of the domain becomes durable, as a Super Block Flush of each would make it.
Outcome Model::NvmFlush(Domain& d) {
  for (uint32_t id : d.open_sbs) Commit(*d.vd, id);
  return Outcome::Ok();
}

// ---- nameless write ---------------------------------------------------------------------------

void Model::AppendAdu(Domain& d, uint32_t id, uint64_t ua, const uint8_t* data,
                      const uint8_t* meta) {
  const Vd& vd = *d.vd;
  media_->WriteData(PhysicalAdu(vd, id, vd.sbs[id].written), data);
  RecordAdu(d, id, ua, meta);
}

void Model::RecordAdu(Domain& d, uint32_t id, uint64_t ua, const uint8_t* meta) {
  Vd& vd = *d.vd;
  SuperBlock& sb = vd.sbs[id];
  AduInfo* info = media_->info(PhysicalAdu(vd, id, sb.written));
  info->user_address = ua;
  if (meta != nullptr) {
    std::memcpy(info->metadata, meta, wire::kAduMetaBytes);
  } else {
    std::memset(info->metadata, 0, wire::kAduMetaBytes);
  }
  // The ADU counts as written only once everything else is in place.
  std::atomic_signal_fence(std::memory_order_release);
  info->sequence = write_sequence_.fetch_add(1, std::memory_order_relaxed) + 1;
  ++sb.written;
}

Outcome Model::Write(Domain& d, const cmd::FlashAddressRequest& far,
                     const cmd::NamelessWriteRequest& nlw, Outcome& far_outcome) {
  Vd& vd = *d.vd;
  // The two halves must name the same target.
  const bool by_sb = std::holds_alternative<SuperBlockId>(nlw.target);
  if (by_sb != std::holds_alternative<SuperBlockId>(far.target) ||
      (by_sb && std::get<SuperBlockId>(nlw.target) != std::get<SuperBlockId>(far.target)) ||
      (!by_sb &&
       std::get<cmd::ByPlacement>(nlw.target).placement != std::get<PlacementId>(far.target))) {
    far_outcome = InvalidField();
    return InvalidField();
  }
  wire::AddressRequestResponse arr{};
  arr.npsp = static_cast<uint16_t>(vd.dies_per_sb * options_.config.planes);
  IovCursor data(nlw.data);
  uint32_t done = 0;
  const uint32_t total = nlw.adus.value();
  Outcome failure = Outcome::Ok();
  const bool pslc = !by_sb && std::get<cmd::ByPlacement>(nlw.target).pslc;
  const uint16_t pid = by_sb ? 0xFFFF : std::get<cmd::ByPlacement>(nlw.target).placement.value();
  while (done < total && arr.nsb < wire::kMaxArrExtents) {
    uint32_t id = 0;
    if (by_sb) {
      id = std::get<SuperBlockId>(nlw.target).value();
      if (id >= vd.sbs.size() || vd.sbs[id].owner.load(std::memory_order_acquire) != d.id.value()) {
        failure = InvalidField();
        break;
      }
      if (!IsOpen(vd.sbs[id].state())) {
        failure = SequenceError();  // writing a closed super block
        break;
      }
    } else if (auto it = d.open_by_placement.find({pid, pslc}); it != d.open_by_placement.end()) {
      id = it->second;
    } else {
      if (auto failed = Allocate(d, pslc, std::nullopt, SbState::kOpenByPlacement, pid, id)) {
        failure = *failed;
        break;
      }
      d.open_by_placement[{pid, pslc}] = id;
    }
    SuperBlock& sb = vd.sbs[id];
    const uint32_t n = std::min(total - done, sb.capacity - sb.written);
    wire::SbExtent& extent = arr.sbis[arr.nsb++];
    extent.nfla = n;
    extent.sfla =
        FlashAddress::Make(d.id, SuperBlockId(id), AduOffset(sb.written), vd.format)->raw();
    const uint32_t first = sb.written;
    // The data of every ADU first, a physically contiguous run at a time straight from the
    // host's buffers; then each ADU's record, in order (a crash between them leaves the
    // ADUs unwritten, and a crash among the records a prefix).
    ForEachRun(vd, id, first, first + n, [&](uint64_t phys, uint32_t count) {
      std::vector<iovec> pieces;
      data.Take(size_t{count} * wire::kAduDataBytes, pieces);
      media_->WriteData(phys, count, pieces);
    });
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t ua = nlw.start.is_ignore() ? nlw.start.raw() : nlw.start.raw() + done + i;
      const uint8_t* meta = nlw.metadata.size != 0
                                ? nlw.metadata.data + uint64_t{done + i} * wire::kAduMetaBytes
                                : nullptr;
      RecordAdu(d, id, ua, meta);
    }
    if (nlw.fua) {
      Commit(vd, id);
    } else {
      Secure(vd, id, ProgrammedDurable(vd, id));
    }
    done += n;
    arr.nradu = sb.capacity - sb.written;
    if (sb.written == sb.capacity) SetSbState(d, id, SbState::kClosed, ClosedTransition(sb));
    if (by_sb) break;  // a write into one SB never spills into another
  }
  std::memcpy(far.arr.data, &arr, std::min<size_t>(sizeof(arr), far.arr.size));
  if (done == 0) {
    far_outcome = failure.status.ok() ? SequenceError() : failure;
    return far_outcome;
  }
  far_outcome = Outcome::Ok(cmd::FarResult{done}.ToResult());
  if (done < total) return PartialWrite(total - done);
  return Outcome::Ok(cmd::NlwResult{done, 0}.ToResult());
}

// ---- read -------------------------------------------------------------------------------------

Outcome Model::Read(Domain& d, const cmd::ReadRequest& r) {
  Vd& vd = *d.vd;
  const uint32_t id = r.address.super_block(vd.format).value();
  const uint32_t offset = r.address.adu_offset(vd.format).value();
  if (id >= vd.sbs.size()) return Fail(StatusCodeType::kGeneric, sc::kLbaOutOfRange);
  const uint16_t owner = vd.sbs[id].owner.load(std::memory_order_acquire);
  if (owner == 0) return Unwritten();
  if (owner != d.id.value()) return AccessDenied();  // a super block of another QoS domain
  if (r.fifo != kDefaultReadFifo) {
    const uint32_t fifo = r.fifo.value();
    const auto& fifos = fifos_;
    if (fifo == 0 || fifo > fifos.size() || fifos[fifo - 1].vd != vd.id.value()) {
      return InvalidField();
    }
  }
  const SuperBlock& sb = vd.sbs[id];
  const uint32_t n = r.adus.value();
  if (uint64_t{offset} + n > sb.capacity) {
    return Fail(StatusCodeType::kGeneric, sc::kLbaOutOfRange);  // past the SB: no such ADU
  }
  // ADUs at and past the write pointer hold nothing the host wrote: a closed SB's padding or
  // an open SB's erased remainder. They read as zeros with user address all ones, so a
  // verified read of them fails with Compare Failure (docs/model.md, "Reading unwritten ADUs").
  const auto user_address = [&](uint32_t o) {
    return o < sb.written ? media_->info(PhysicalAdu(vd, id, o))->user_address : ~uint64_t{0};
  };
  if (!r.verify.is_ignore()) {
    for (uint32_t i = 0; i < n; ++i) {
      if (user_address(offset + i) != r.verify.raw() + i) return CompareFailure();
    }
  }
  static constexpr uint8_t kZeros[wire::kAduDataBytes] = {};
  IovCursor out(r.data);
  for (uint32_t i = 0; i < n; ++i) {
    const bool written = offset + i < sb.written;
    const uint64_t phys = PhysicalAdu(vd, id, offset + i);
    if (r.data.count != 0) out.Write(written ? media_->data(phys) : kZeros, wire::kAduDataBytes);
    if (r.metadata.size != 0) {
      std::memcpy(r.metadata.data + uint64_t{i} * wire::kAduMetaBytes,
                  written ? media_->info(phys)->metadata : kZeros, wire::kAduMetaBytes);
    }
  }
  return Outcome::Ok();
}

// ---- nameless copy ----------------------------------------------------------------------------

Outcome Model::CopyLocked(const std::vector<Mutex*>& locks, Domain& dest,
                          const cmd::NamelessCopyRequest& nlc, const cmd::GetCopyResultRequest& gcr,
                          Outcome& nlc_outcome) {
  for (Mutex* mu : locks) mu->Lock();
  const Outcome o = Copy(dest, nlc, gcr, nlc_outcome);
  for (auto it = locks.rbegin(); it != locks.rend(); ++it) (*it)->Unlock();
  return o;
}

Outcome Model::Copy(Domain& dest, const cmd::NamelessCopyRequest& nlc,
                    const cmd::GetCopyResultRequest& gcr, Outcome& nlc_outcome) {
  Vd& vd = *dest.vd;
  const uint32_t id = nlc.destination_sb.value();
  if (id >= vd.sbs.size() || vd.sbs[id].owner.load(std::memory_order_acquire) != dest.id.value()) {
    nlc_outcome = InvalidField();
    return nlc_outcome;
  }
  SuperBlock& target = vd.sbs[id];
  if (!IsOpen(target.state())) {
    nlc_outcome = SequenceError();  // copying into a closed super block
    return nlc_outcome;
  }
  // The source, as a list of flash addresses with the index the ACR reports as "next".
  std::vector<std::pair<FlashAddress, uint32_t>> sources;
  if (const auto* list = std::get_if<cmd::CopyList>(&nlc.source)) {
    for (uint32_t i = 0; i < list->addresses.size(); ++i)
      sources.push_back({list->addresses[i], i});
  } else {
    const auto& bitmap = std::get<cmd::CopyBitmap>(nlc.source);
    const uint64_t base = bitmap.start.raw() & ~wire::kNlcBitmapAlignMask;
    for (uint32_t w = 0; w < bitmap.words.size(); ++w) {
      for (uint32_t b = 0; b < 32; ++b) {
        if (bitmap.words[w] & (1u << b)) {
          sources.push_back({FlashAddress::FromRaw(base + w * 32 + b), w * 32 + b});
        }
      }
    }
  }
  const uint32_t acr_entries =
      (gcr.acr.size - sizeof(wire::AcrHeader)) / sizeof(wire::AddressChange);
  wire::AcrHeader header{};
  std::vector<wire::AddressChange> changes;
  uint8_t status = 0;
  size_t next = 0;
  for (; next < sources.size(); ++next) {
    if (target.written == target.capacity) {
      status |= wire::kCopyClosedDestination;
      break;
    }
    if (changes.size() == acr_entries) {
      status |= wire::kCopyFilledAcr;
      break;
    }
    const FlashAddress from = sources[next].first;
    Domain* src = FindDomain(from.domain().value());
    ++header.processed_adus;
    if (src == nullptr) {
      ++header.read_error_adus;
      status |= wire::kCopyReadError;
      continue;
    }
    Vd& svd = *src->vd;
    const uint32_t sid = from.super_block(svd.format).value();
    const uint32_t soff = from.adu_offset(svd.format).value();
    if (sid >= svd.sbs.size() ||
        svd.sbs[sid].owner.load(std::memory_order_acquire) != src->id.value()) {
      ++header.read_error_adus;
      status |= wire::kCopyReadError;
      continue;
    }
    const SuperBlock& ssb = svd.sbs[sid];
    if (ssb.state() != SbState::kClosed) {
      status |= wire::kCopyNonClosedSource;  // skipped, not a read error
      continue;
    }
    if (soff >= ssb.written) {
      ++header.read_error_adus;
      status |= wire::kCopyReadError;
      continue;
    }
    const uint64_t sphys = PhysicalAdu(svd, sid, soff);
    const AduInfo* sinfo = media_->info(sphys);
    if (nlc.filter.has_value()) {
      const uint64_t ua = sinfo->user_address;
      const bool inside =
          ua >= nlc.filter->start.raw() && ua - nlc.filter->start.raw() < nlc.filter->length;
      if (inside == nlc.filter->exclude) {
        status |= wire::kCopyFilteredUas;
        continue;
      }
    }
    const FlashAddress to =
        *FlashAddress::Make(dest.id, SuperBlockId(id), AduOffset(target.written), vd.format);
    AppendAdu(dest, id, sinfo->user_address, media_->data(sphys), sinfo->metadata);
    changes.push_back({sinfo->user_address, from.raw(), to.raw()});
  }
  if (gcr.fua) {
    Commit(vd, id);
  } else {
    Secure(vd, id, ProgrammedDurable(vd, id));
  }
  if (next == sources.size()) status |= wire::kCopyConsumedSource;
  header.next_adu_offset =
      next < sources.size() ? sources[next].second
      : std::holds_alternative<cmd::CopyList>(nlc.source)
          ? static_cast<uint32_t>(std::get<cmd::CopyList>(nlc.source).addresses.size())
          : static_cast<uint32_t>(std::get<cmd::CopyBitmap>(nlc.source).words.size() * 32);
  if (target.written == target.capacity) {
    target.rec.flags |= kSbFlagOpenedByCopy;
    SetSbState(dest, id, SbState::kClosed, wire::kStNlcClosed);
    status |= wire::kCopyClosedDestination;
  }
  header.adus_left = target.capacity - target.written;
  header.copy_status = status;
  std::memset(gcr.acr.data, 0, gcr.acr.size);
  std::memcpy(gcr.acr.data, &header, sizeof(header));
  if (!changes.empty()) {  // an empty vector's data() may be null, which memcpy must not get
    std::memcpy(gcr.acr.data + sizeof(header), changes.data(),
                changes.size() * sizeof(wire::AddressChange));
  }
  nlc_outcome = Outcome::Ok(cmd::NlcResult{header.adus_left, status}.ToResult());
  return Outcome::Ok(cmd::GcrResult{0}.ToResult());
}

}  // namespace sef::model::internal
