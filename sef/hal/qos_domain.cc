// QosDomain: root pointers, super blocks and the data path (write, read, copy).
#include <cstring>
#include <future>
#include <memory>
#include <mutex>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/hal.h"

namespace sef::hal {
namespace {

// Runs an ...Async call and waits for its callback.
template <typename T, typename Start>
absl::StatusOr<T> Wait(Start start) {
  std::promise<absl::StatusOr<T>> promise;
  std::future<absl::StatusOr<T>> future = promise.get_future();
  start([&promise](absl::StatusOr<T> r) { promise.set_value(std::move(r)); });
  return future.get();
}

absl::Status WaitStatus(const std::function<void(StatusCallback)>& start) {
  std::promise<absl::Status> promise;
  std::future<absl::Status> future = promise.get_future();
  start([&promise](absl::Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

// The iovecs covering bytes [offset, offset + length) of `data`.
std::vector<iovec> Slice(std::span<const iovec> data, uint64_t offset, uint64_t length) {
  std::vector<iovec> out;
  for (const iovec& v : data) {
    if (length == 0) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    const uint64_t take = std::min<uint64_t>(v.iov_len - offset, length);
    out.push_back({static_cast<uint8_t*>(v.iov_base) + offset, take});
    length -= take;
    offset = 0;
  }
  return out;
}

uint64_t TotalBytes(std::span<const iovec> data) {
  uint64_t n = 0;
  for (const iovec& v : data) n += v.iov_len;
  return n;
}

}  // namespace

QosDomain::~QosDomain() = default;

uint32_t QosDomain::NextPairId() {
  uint32_t id = next_pair_id_.fetch_add(1, std::memory_order_relaxed);
  while (id == 0) id = next_pair_id_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

absl::StatusOr<SuperBlockId> QosDomain::OwnSuperBlock(FlashAddress sb, const char* what) const {
  if (sb.domain() != id_) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: flash address 0x%016x belongs to QoS domain %u, not %u", what,
                        sb.raw(), sb.domain().value(), id_.value()));
  }
  return sb.super_block(format_);
}

absl::Status QosDomain::SetRootPointer(int index, FlashAddress value) {
  if (index < 0 || index >= static_cast<int>(wire::kNumRootPointers)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("root pointer index %d is outside 0..7", index));
  }
  return unit_->AdminStatus(cmd::SetRootPointerRequest{id_, static_cast<uint8_t>(index), value});
}

absl::StatusOr<FlashAddress> QosDomain::GetRootPointer(int index) {
  if (index < 0 || index >= static_cast<int>(wire::kNumRootPointers)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("root pointer index %d is outside 0..7", index));
  }
  uint64_t result = 0;
  SEF_RETURN_IF_ERROR(
      unit_->AdminStatus(cmd::GetRootPointerRequest{id_, static_cast<uint8_t>(index)}, &result));
  return cmd::RootPointerResult::FromResult(result).value;
}

// ---- super blocks ---------------------------------------------------------------------------

void QosDomain::AllocateSuperBlockAsync(bool pslc, Callback<SuperBlockAllocation> done) {
  absl::StatusOr<Command> c =
      cmd::Encode(cmd::SuperBlockManagementRequest{id_,
                                                   pslc ? wire::SbOperation::kPslcErase
                                                        : wire::SbOperation::kErase,
                                                   kDeviceChoosesSuperBlock,
                                                   0,
                                                   {}},
                  domain_format());
  if (!c.ok()) return std::move(done)(c.status());
  unit_->transport().Submit(*c, [this, c = *c, done = std::move(done)](TransportResult r) mutable {
    absl::Status s = StatusOf(r, c);
    if (!s.ok()) return std::move(done)(s);
    const cmd::EraseResult e = cmd::EraseResult::FromResult(r.result);
    absl::StatusOr<FlashAddress> address = FlashAddress::Make(id_, e.sb, AduOffset(0), format_);
    if (!address.ok()) return std::move(done)(address.status());
    std::move(done)(SuperBlockAllocation{*address, e.writable_adus.value()});
  });
}

absl::StatusOr<SuperBlockAllocation> QosDomain::AllocateSuperBlock(bool pslc) {
  return Wait<SuperBlockAllocation>(
      [&](Callback<SuperBlockAllocation> cb) { AllocateSuperBlockAsync(pslc, std::move(cb)); });
}

absl::StatusOr<uint64_t> QosDomain::SuperBlockCommand(wire::SbOperation op, FlashAddress sb,
                                                      std::vector<uint8_t>* info) {
  SEF_ASSIGN_OR_RETURN(SuperBlockId id, OwnSuperBlock(sb, "super block management"));
  std::vector<uint8_t> scratch;
  if (info == nullptr) info = &scratch;
  if (op != wire::SbOperation::kFree) info->assign(sizeof(wire::SbInfoLog), 0);
  SEF_ASSIGN_OR_RETURN(
      Command c,
      cmd::Encode(cmd::SuperBlockManagementRequest{id_, op, id, 0, cmd::MutableBytes::Of(*info)},
                  domain_format()));
  const TransportResult r = unit_->Execute(c);
  SEF_RETURN_IF_ERROR(StatusOf(r, c));
  return r.result;
}

absl::StatusOr<bool> QosDomain::CloseSuperBlock(FlashAddress sb) {
  SEF_ASSIGN_OR_RETURN(uint64_t r, SuperBlockCommand(wire::SbOperation::kClose, sb, nullptr));
  return cmd::CloseResult::FromResult(r).closed_by_this_command;
}

absl::StatusOr<uint32_t> QosDomain::FlushSuperBlock(FlashAddress sb) {
  std::vector<uint8_t> info;
  SEF_RETURN_IF_ERROR(SuperBlockCommand(wire::SbOperation::kFlush, sb, &info).status());
  wire::SbInfoLog log;
  std::memcpy(&log, info.data(), sizeof(log));
  return log.cap - log.aduptr;
}

absl::Status QosDomain::ReleaseSuperBlock(FlashAddress sb) {
  return SuperBlockCommand(wire::SbOperation::kFree, sb, nullptr).status();
}

absl::StatusOr<uint8_t> QosDomain::CheckSuperBlock(FlashAddress sb) {
  SEF_ASSIGN_OR_RETURN(uint64_t r, SuperBlockCommand(wire::SbOperation::kPatrol, sb, nullptr));
  return cmd::PatrolResult::FromResult(r).integrity_index;
}

absl::StatusOr<std::vector<SuperBlockEntry>> QosDomain::ListSuperBlocks(SbListOrder order) {
  std::vector<SuperBlockEntry> out;
  constexpr uint32_t kPage = 4096;
  for (uint64_t offset = 0;; offset += kPage) {
    SEF_ASSIGN_OR_RETURN(
        std::vector<uint8_t> page,
        unit_->AdminData(cmd::SuperBlockListLogRequest{id_, order, offset, {}}, kPage));
    for (uint32_t at = 0; at + sizeof(wire::SbListEntry) <= page.size();
         at += sizeof(wire::SbListEntry)) {
      wire::SbListEntry e;
      std::memcpy(&e, page.data() + at, sizeof(e));
      if (e.sbid == wire::kSbListEnd) return out;
      out.push_back({SuperBlockId(e.sbid), e.sbs, e.peci});
    }
  }
}

absl::StatusOr<SuperBlockDetails> QosDomain::GetSuperBlockInfo(FlashAddress sb) {
  SEF_ASSIGN_OR_RETURN(SuperBlockId id, OwnSuperBlock(sb, "super block information"));
  SEF_ASSIGN_OR_RETURN(
      std::vector<uint8_t> bytes,
      unit_->AdminData(cmd::SuperBlockInfoLogRequest{vd_, id, false, {}}, sizeof(wire::SbInfoLog)));
  wire::SbInfoLog log;
  std::memcpy(&log, bytes.data(), sizeof(log));
  if (log.qosdid != id_.value()) {
    return absl::NotFoundError(
        absl::StrFormat("super block %u is not held by QoS domain %u", id.value(), id_.value()));
  }
  SuperBlockDetails d;
  d.address = *FlashAddress::Make(id_, id, AduOffset(0), format_);
  d.state_bits = log.sbs;
  d.placement = PlacementId(log.pid);
  d.capacity_adus = log.cap;
  d.written_adus = log.aduptr;
  d.erase_serial = log.esn;
  d.erase_count_index = log.peci;
  d.integrity = log.dii;
  d.minutes_left = log.tl;
  return d;
}

absl::StatusOr<std::vector<UserAddress>> QosDomain::GetUserAddressList(FlashAddress sb) {
  SEF_ASSIGN_OR_RETURN(SuperBlockDetails details, GetSuperBlockInfo(sb));
  SEF_ASSIGN_OR_RETURN(SuperBlockId id, OwnSuperBlock(sb, "user address list"));
  std::vector<UserAddress> out;
  constexpr uint32_t kChunk = 64 * 1024;  // bytes per log read
  const uint64_t total = uint64_t{details.capacity_adus} * 8;
  for (uint64_t offset = 0; offset < total; offset += kChunk) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kChunk, total - offset));
    SEF_ASSIGN_OR_RETURN(
        std::vector<uint8_t> bytes,
        unit_->AdminData(cmd::UserAddressListLogRequest{id_, id, static_cast<uint32_t>(offset), {}},
                         n));
    for (uint32_t at = 0; at < n; at += 8) {
      uint64_t ua;
      std::memcpy(&ua, bytes.data() + at, 8);
      out.push_back(UserAddress::FromRaw(ua));
    }
  }
  return out;
}

// ---- write ----------------------------------------------------------------------------------

struct QosDomain::WriteState {
  WriteOp op;
  std::vector<iovec> data;       // the caller's iovecs (op.data points here)
  uint32_t total = 0, done = 0;  // ADUs
  WriteResult result;
  Callback<WriteResult> callback;
  // The pair in flight.
  std::vector<iovec> slice;
  std::vector<uint8_t> arr = std::vector<uint8_t>(sizeof(wire::AddressRequestResponse));
  Command far, nlw;
  TransportResult far_result, nlw_result;
  std::atomic<int> pending{0};
};

void QosDomain::WriteAsync(const WriteOp& op, Callback<WriteResult> done) {
  const uint64_t bytes = TotalBytes(op.data);
  if (bytes == 0 || bytes % wire::kAduDataBytes != 0) {
    return std::move(done)(absl::InvalidArgumentError(absl::StrFormat(
        "write: %u data bytes is not a whole, non-zero number of 4096-byte ADUs", bytes)));
  }
  if (bytes / wire::kAduDataBytes > 0xFFFFFFFFull) {
    return std::move(done)(absl::InvalidArgumentError("write: more than 2^32 ADUs"));
  }
  if (const auto* sb = std::get_if<FlashAddress>(&op.target)) {
    absl::StatusOr<SuperBlockId> own = OwnSuperBlock(*sb, "write");
    if (!own.ok()) return std::move(done)(own.status());
  }
  auto state = std::make_shared<QosDomain::WriteState>();
  state->data.assign(op.data.begin(), op.data.end());
  state->op = op;
  state->op.data = state->data;
  state->total = static_cast<uint32_t>(bytes / wire::kAduDataBytes);
  state->callback = std::move(done);
  WriteStep(std::move(state));
}

// One FAR+NLW pair for the next (at most 0x10000) ADUs.
void QosDomain::WriteStep(std::shared_ptr<WriteState> state) {
  const uint32_t n = std::min<uint32_t>(state->total - state->done, max_adus_);
  state->slice = Slice(state->op.data, uint64_t{state->done} * wire::kAduDataBytes,
                       uint64_t{n} * wire::kAduDataBytes);
  const uint32_t pair = NextPairId();
  cmd::FlashAddressRequest far;
  far.domain = id_;
  far.nlwid = pair;
  far.arr = cmd::MutableBytes::Of(state->arr);
  cmd::NamelessWriteRequest nlw;
  nlw.domain = id_;
  nlw.nlwid = pair;
  nlw.adus = AduCount(n);
  nlw.fua = state->op.fua;
  nlw.data = {state->slice.data(), static_cast<uint32_t>(state->slice.size())};
  nlw.start = state->op.start.is_ignore()
                  ? state->op.start
                  : UserAddress::FromRaw(state->op.start.raw() + state->done);
  if (state->op.metadata != nullptr) {
    nlw.metadata = {state->op.metadata + uint64_t{state->done} * wire::kAduMetaBytes,
                    n * wire::kAduMetaBytes};
  }
  if (const auto* by = std::get_if<ByPlacement>(&state->op.target)) {
    far.target = by->placement;
    nlw.target = *by;
  } else {
    const SuperBlockId sb = std::get<FlashAddress>(state->op.target).super_block(format_);
    far.target = sb;
    nlw.target = sb;
  }
  absl::StatusOr<Command> far_cmd = cmd::Encode(far, domain_format());
  absl::StatusOr<Command> nlw_cmd = cmd::Encode(nlw, domain_format());
  if (!far_cmd.ok() || !nlw_cmd.ok()) {
    return std::move(state->callback)(!far_cmd.ok() ? far_cmd.status() : nlw_cmd.status());
  }
  state->far = *far_cmd;
  state->nlw = *nlw_cmd;
  state->pending.store(2, std::memory_order_relaxed);
  // The FAR and the NLW may complete in either order (kernel CQEs); the second to complete
  // evaluates the pair.
  unit_->transport().SubmitPair(
      state->far,
      [this, state](TransportResult r) {
        state->far_result = std::move(r);
        if (state->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) WritePairDone(state);
      },
      state->nlw,
      [this, state](TransportResult r) {
        state->nlw_result = std::move(r);
        if (state->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) WritePairDone(state);
      });
}

void QosDomain::WritePairDone(std::shared_ptr<WriteState> state) {
  const TransportResult& nlw = state->nlw_result;
  const bool partial =
      nlw.os.ok() && nlw.nvme.Is(static_cast<uint8_t>(wire::StatusCodeType::kVendorSpecific),
                                 wire::sc::kPartialWrite);
  if (!partial && !nlw.ok()) return std::move(state->callback)(StatusOf(nlw, state->nlw));
  if (!state->far_result.ok()) {
    return std::move(state->callback)(StatusOf(state->far_result, state->far));
  }
  wire::AddressRequestResponse arr;
  std::memcpy(&arr, state->arr.data(), sizeof(arr));
  uint32_t written = 0;
  for (uint32_t e = 0; e < arr.nsb && e < wire::kMaxArrExtents; ++e) {
    for (uint32_t j = 0; j < arr.sbis[e].nfla; ++j) {
      state->result.addresses.push_back(FlashAddress::FromRaw(arr.sbis[e].sfla + j));
    }
    written += arr.sbis[e].nfla;
  }
  const uint32_t asked = static_cast<uint32_t>(
      state->slice.empty() ? 0 : state->nlw.data_bytes() / wire::kAduDataBytes);
  const uint32_t expected = partial ? asked - cmd::NlwResult::FromResult(nlw.result).count : asked;
  if (written != expected) {
    return std::move(state->callback)(absl::DataLossError(
        absl::StrFormat("%s: the device reported %u ADUs written but %u addresses",
                        cmd::DescribeCommand(state->nlw), expected, written)));
  }
  state->done += written;
  if (state->done == state->total) return std::move(state->callback)(std::move(state->result));
  if (std::holds_alternative<FlashAddress>(state->op.target) && partial) {
    // The super block filled and closed: the rest does not fit anywhere the caller chose.
    state->result.not_written = state->total - state->done;
    return std::move(state->callback)(std::move(state->result));
  }
  if (written == 0) {
    return std::move(state->callback)(absl::ResourceExhaustedError(
        absl::StrFormat("%s: no progress (%u of %u ADUs written)", cmd::DescribeCommand(state->nlw),
                        state->done, state->total)));
  }
  WriteStep(std::move(state));  // more than 0x10000 ADUs, or more than 8 super blocks
}

absl::StatusOr<WriteResult> QosDomain::Write(const WriteOp& op) {
  return Wait<WriteResult>([&](Callback<WriteResult> cb) { WriteAsync(op, std::move(cb)); });
}

// ---- read -----------------------------------------------------------------------------------

void QosDomain::ReadAsync(const ReadOp& op, StatusCallback done) {
  if (op.address.domain() != id_) {
    return std::move(done)(absl::InvalidArgumentError(
        absl::StrFormat("read: flash address 0x%016x belongs to QoS domain %u, not %u",
                        op.address.raw(), op.address.domain().value(), id_.value())));
  }
  if (op.adus == 0) return std::move(done)(absl::InvalidArgumentError("read: 0 ADUs"));
  // Reads above the maximum transfer become several commands, in flight together; the
  // first error wins.
  struct ReadState {
    std::vector<std::vector<iovec>> data;
    std::vector<Command> commands;
    std::atomic<size_t> pending{0};
    std::mutex mu;
    absl::Status status ABSL_GUARDED_BY(mu);
    StatusCallback done;
  };
  if (!op.data.empty() && TotalBytes(op.data) != uint64_t{op.adus} * wire::kAduDataBytes) {
    return std::move(done)(absl::InvalidArgumentError(
        absl::StrFormat("read: data buffers hold %u bytes, the ADU count needs %u",
                        TotalBytes(op.data), uint64_t{op.adus} * wire::kAduDataBytes)));
  }
  auto state = std::make_shared<ReadState>();
  const uint32_t parts = (op.adus + max_adus_ - 1) / max_adus_;
  state->data.resize(parts);
  for (uint32_t p = 0; p < parts; ++p) {
    const uint32_t first = p * max_adus_;
    const uint32_t n = std::min(max_adus_, op.adus - first);
    if (!op.data.empty()) {
      state->data[p] =
          Slice(op.data, uint64_t{first} * wire::kAduDataBytes, uint64_t{n} * wire::kAduDataBytes);
    }
    cmd::ReadRequest r;
    r.address = FlashAddress::FromRaw(op.address.raw() + first);
    r.adus = AduCount(n);
    r.verify = op.verify.is_ignore() ? op.verify : UserAddress::FromRaw(op.verify.raw() + first);
    r.fifo = op.fifo;
    r.data = {state->data[p].data(), static_cast<uint32_t>(state->data[p].size())};
    if (op.metadata != nullptr) {
      r.metadata = {op.metadata + uint64_t{first} * wire::kAduMetaBytes, n * wire::kAduMetaBytes};
    }
    absl::StatusOr<Command> c = cmd::Encode(r, domain_format());
    if (!c.ok()) return std::move(done)(c.status());
    state->commands.push_back(*c);
  }
  state->done = std::move(done);
  state->pending.store(parts, std::memory_order_relaxed);
  for (uint32_t p = 0; p < parts; ++p) {
    unit_->transport().Submit(state->commands[p], [state, p](TransportResult t) {
      absl::Status s = StatusOf(t, state->commands[p]);
      if (!s.ok()) {
        std::lock_guard lock(state->mu);
        if (state->status.ok()) state->status = std::move(s);
      }
      if (state->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        absl::Status final_status;
        {
          std::lock_guard lock(state->mu);
          final_status = state->status;
        }
        std::move(state->done)(std::move(final_status));
      }
    });
  }
}

absl::Status QosDomain::Read(const ReadOp& op) {
  return WaitStatus([&](StatusCallback cb) { ReadAsync(op, std::move(cb)); });
}

// ---- copy -----------------------------------------------------------------------------------

struct QosDomain::CopyState {
  std::vector<uint8_t> payload, acr;
  Command nlc, gcr;
  TransportResult nlc_result, gcr_result;
  std::atomic<int> pending{2};
  Callback<CopyResult> callback;
};

void QosDomain::CopyAsync(const CopyOp& op, Callback<CopyResult> done) {
  absl::StatusOr<SuperBlockId> dest = OwnSuperBlock(op.destination, "copy destination");
  if (!dest.ok()) return std::move(done)(dest.status());
  if (op.max_changes == 0) {
    return std::move(done)(
        absl::InvalidArgumentError("copy: max_changes 0 leaves no room for the result"));
  }
  auto state = std::make_shared<CopyState>();
  const size_t elements = std::holds_alternative<cmd::CopyList>(op.source)
                              ? std::get<cmd::CopyList>(op.source).addresses.size() * 8
                              : std::get<cmd::CopyBitmap>(op.source).words.size() * 4 + 8;
  state->payload.resize(sizeof(wire::UserAddressRange) + elements);
  state->acr.resize(sizeof(wire::AcrHeader) +
                    uint64_t{op.max_changes} * sizeof(wire::AddressChange));
  state->callback = std::move(done);
  const uint32_t pair = NextPairId();
  cmd::NamelessCopyRequest nlc{
      id_, *dest, op.source, op.filter, pair, 0, cmd::MutableBytes::Of(state->payload)};
  cmd::GetCopyResultRequest gcr{id_, pair, false, cmd::MutableBytes::Of(state->acr)};
  absl::StatusOr<Command> nlc_cmd = cmd::Encode(nlc, domain_format());
  absl::StatusOr<Command> gcr_cmd = cmd::Encode(gcr, domain_format());
  if (!nlc_cmd.ok() || !gcr_cmd.ok()) {
    return std::move(state->callback)(!nlc_cmd.ok() ? nlc_cmd.status() : gcr_cmd.status());
  }
  state->nlc = *nlc_cmd;
  state->gcr = *gcr_cmd;
  auto finish = [state]() {
    if (!state->gcr_result.ok())
      return std::move(state->callback)(StatusOf(state->gcr_result, state->gcr));
    if (!state->nlc_result.ok())
      return std::move(state->callback)(StatusOf(state->nlc_result, state->nlc));
    wire::AcrHeader h;
    std::memcpy(&h, state->acr.data(), sizeof(h));
    CopyResult result;
    result.processed_adus = h.processed_adus;
    result.read_errors = h.read_error_adus;
    result.next = h.next_adu_offset;
    result.destination_adus_left = h.adus_left;
    result.copy_status = h.copy_status;
    const size_t entries = (state->acr.size() - sizeof(h)) / sizeof(wire::AddressChange);
    for (size_t i = 0; i < entries; ++i) {
      wire::AddressChange c;
      std::memcpy(&c, state->acr.data() + sizeof(h) + i * sizeof(c), sizeof(c));
      if (c.ua == 0 && c.ofa == 0 && c.nfa == 0) break;  // the rest of the record is unused
      result.changes.push_back(
          {UserAddress::FromRaw(c.ua), FlashAddress::FromRaw(c.ofa), FlashAddress::FromRaw(c.nfa)});
    }
    std::move(state->callback)(std::move(result));
  };
  unit_->transport().SubmitPair(
      state->nlc,
      [state, finish](TransportResult r) mutable {
        state->nlc_result = std::move(r);
        if (state->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) finish();
      },
      state->gcr,
      [state, finish](TransportResult r) mutable {
        state->gcr_result = std::move(r);
        if (state->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) finish();
      });
}

absl::StatusOr<CopyResult> QosDomain::Copy(const CopyOp& op) {
  return Wait<CopyResult>([&](Callback<CopyResult> cb) { CopyAsync(op, std::move(cb)); });
}

}  // namespace sef::hal
