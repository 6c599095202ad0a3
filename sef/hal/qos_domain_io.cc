// QosDomain's data path: nameless write (FAR+NLW pairs), read, nameless copy (NLC+GCR).
#include <cstring>
#include <memory>

#include "absl/strings/str_format.h"
#include "sef/base/iovec.h"
#include "sef/base/mutex.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/hal.h"
#include "sef/hal/internal/callbacks.h"
#include "sef/hal/internal/status_of.h"

namespace sef::hal {
namespace {

// The iovecs covering bytes [offset, offset + length) of `data`.
std::vector<iovec> Slice(std::span<const iovec> data, uint64_t offset, uint64_t length) {
  std::vector<iovec> out;
  SliceIovecs(data, offset, length, out);
  return out;
}

// The two halves of a pair may complete in either order (kernel CQEs, the model's shuffled
// mode); the second to complete runs `finish`.
class PairGate {
 public:
  bool Arrive() { return pending_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  void Reset() { pending_.store(2, std::memory_order_relaxed); }

 private:
  std::atomic<int> pending_{2};
};

}  // namespace

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
  PairGate gate;
};

void QosDomain::WriteAsync(const WriteOp& op, Callback<WriteResult> done) {
  done = Track(std::move(done));
  const uint64_t bytes = IovecBytes(op.data);
  if (bytes == 0 || bytes % wire::kAduDataBytes != 0) {
    return std::move(done)(absl::InvalidArgumentError(absl::StrFormat(
        "write: %u data bytes is not a whole, non-zero number of 4096-byte ADUs", bytes)));
  }
  if (bytes / wire::kAduDataBytes > 0xFFFFFFFFull) {
    return std::move(done)(absl::InvalidArgumentError("write: more than 2^32 ADUs"));
  }
  const uint64_t adus = bytes / wire::kAduDataBytes;
  if (!op.metadata.empty() && op.metadata.size() != adus * wire::kAduMetaBytes) {
    return std::move(done)(absl::InvalidArgumentError(
        absl::StrFormat("write: %u metadata bytes for %u ADUs; expected 0 or %u",
                        op.metadata.size(), adus, adus * wire::kAduMetaBytes)));
  }
  if (const auto* sb = std::get_if<SuperBlockId>(&op.target)) {
    if (absl::Status s = CheckOwn(*sb, "write"); !s.ok()) return std::move(done)(std::move(s));
  }
  auto state = std::make_shared<QosDomain::WriteState>();
  state->data.assign(op.data.begin(), op.data.end());
  state->op = op;
  state->op.data = state->data;
  state->total = static_cast<uint32_t>(adus);
  state->callback = std::move(done);
  WriteStep(std::move(state));
}

// One FAR+NLW pair for the next (at most max_adus_) ADUs.
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
  if (!state->op.metadata.empty()) {
    // The codec's byte span is mutable for both directions; a write only reads it.
    nlw.metadata = {const_cast<uint8_t*>(state->op.metadata.data()) +
                        uint64_t{state->done} * wire::kAduMetaBytes,
                    n * wire::kAduMetaBytes};
  }
  if (const auto* by = std::get_if<ByPlacement>(&state->op.target)) {
    far.target = by->placement;
    nlw.target = *by;
  } else {
    const SuperBlockId sb = std::get<SuperBlockId>(state->op.target);
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
  state->gate.Reset();
  unit_->transport_->SubmitPair(
      state->far,
      [this, state](TransportResult r) {
        state->far_result = std::move(r);
        if (state->gate.Arrive()) WritePairDone(state);
      },
      state->nlw,
      [this, state](TransportResult r) {
        state->nlw_result = std::move(r);
        if (state->gate.Arrive()) WritePairDone(state);
      });
}

void QosDomain::WritePairDone(std::shared_ptr<WriteState> state) {
  const TransportResult& nlw = state->nlw_result;
  const bool partial =
      nlw.os.ok() && nlw.nvme.Is(static_cast<uint8_t>(wire::StatusCodeType::kVendorSpecific),
                                 wire::sc::kPartialWrite);
  if (!partial && !nlw.ok()) {
    return std::move(state->callback)(internal::StatusOf(nlw, state->nlw));
  }
  if (!state->far_result.ok()) {
    return std::move(state->callback)(internal::StatusOf(state->far_result, state->far));
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
  const uint32_t asked = static_cast<uint32_t>(state->nlw.data_bytes() / wire::kAduDataBytes);
  const uint32_t expected = partial ? asked - cmd::NlwResult::FromResult(nlw.result).count : asked;
  if (written != expected) {
    return std::move(state->callback)(absl::DataLossError(
        absl::StrFormat("%s: the device reported %u ADUs written but %u addresses",
                        cmd::DescribeCommand(state->nlw), expected, written)));
  }
  state->done += written;
  if (state->done == state->total) return std::move(state->callback)(std::move(state->result));
  if (std::holds_alternative<SuperBlockId>(state->op.target) && partial) {
    // The super block filled and closed: the rest does not fit anywhere the caller chose.
    state->result.not_written = state->total - state->done;
    return std::move(state->callback)(std::move(state->result));
  }
  if (written == 0) {
    // The device claimed success for a pair that wrote nothing: continuing would loop.
    return std::move(state->callback)(absl::InternalError(
        absl::StrFormat("%s: the device wrote nothing (%u of %u ADUs written)",
                        cmd::DescribeCommand(state->nlw), state->done, state->total)));
  }
  WriteStep(std::move(state));  // more than max_adus_ ADUs, or more than 8 super blocks
}

absl::StatusOr<WriteResult> QosDomain::Write(const WriteOp& op) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::Write"));
  return internal::AwaitOn<absl::StatusOr<WriteResult>>(
      *unit_->transport_, [&](Callback<WriteResult> done) { WriteAsync(op, std::move(done)); });
}

// ---- read -----------------------------------------------------------------------------------

void QosDomain::ReadAsync(const ReadOp& op, StatusCallback done) {
  done = Track(std::move(done));
  if (op.address.domain() != id_) {
    return std::move(done)(absl::InvalidArgumentError(
        absl::StrFormat("read: flash address 0x%016x belongs to QoS domain %u, not %u",
                        op.address.raw(), op.address.domain().value(), id_.value())));
  }
  const uint32_t adus = op.adus.value();
  if (adus == 0) return std::move(done)(absl::InvalidArgumentError("read: 0 ADUs"));
  if (!op.data.empty() && IovecBytes(op.data) != uint64_t{adus} * wire::kAduDataBytes) {
    return std::move(done)(absl::InvalidArgumentError(
        absl::StrFormat("read: data buffers hold %u bytes, %u ADUs need %u", IovecBytes(op.data),
                        adus, uint64_t{adus} * wire::kAduDataBytes)));
  }
  if (!op.metadata.empty() && op.metadata.size() != uint64_t{adus} * wire::kAduMetaBytes) {
    return std::move(done)(absl::InvalidArgumentError(
        absl::StrFormat("read: %u metadata bytes for %u ADUs; expected 0 or %u", op.metadata.size(),
                        adus, uint64_t{adus} * wire::kAduMetaBytes)));
  }
  // Reads above the maximum transfer become several commands, in flight together; the
  // first error wins.
  struct ReadState {
    std::vector<std::vector<iovec>> data;
    std::vector<Command> commands;
    std::atomic<size_t> pending{0};
    Mutex mu;
    absl::Status status ABSL_GUARDED_BY(mu);
    StatusCallback done;
  };
  auto state = std::make_shared<ReadState>();
  const uint32_t parts = (adus + max_adus_ - 1) / max_adus_;
  state->data.resize(parts);
  for (uint32_t p = 0; p < parts; ++p) {
    const uint32_t first = p * max_adus_;
    const uint32_t n = std::min(max_adus_, adus - first);
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
    if (!op.metadata.empty()) {
      r.metadata = {op.metadata.data() + uint64_t{first} * wire::kAduMetaBytes,
                    n * wire::kAduMetaBytes};
    }
    absl::StatusOr<Command> c = cmd::Encode(r, domain_format());
    if (!c.ok()) return std::move(done)(c.status());
    state->commands.push_back(*c);
  }
  state->done = std::move(done);
  state->pending.store(parts, std::memory_order_relaxed);
  for (uint32_t p = 0; p < parts; ++p) {
    unit_->transport_->Submit(state->commands[p], [state, p](TransportResult t) {
      absl::Status s = internal::StatusOf(t, state->commands[p]);
      if (!s.ok()) {
        MutexLock lock(&state->mu);
        if (state->status.ok()) state->status = std::move(s);
      }
      if (state->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      absl::Status final_status;
      {
        MutexLock lock(&state->mu);
        final_status = std::move(state->status);  // the waiter gets the only reference
      }
      std::move(state->done)(std::move(final_status));
    });
  }
}

absl::Status QosDomain::Read(const ReadOp& op) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::Read"));
  return internal::AwaitOn<absl::Status>(
      *unit_->transport_, [&](StatusCallback done) { ReadAsync(op, std::move(done)); });
}

// ---- copy -----------------------------------------------------------------------------------

void QosDomain::CopyAsync(const CopyOp& op, Callback<CopyResult> done) {
  done = Track(std::move(done));
  if (absl::Status s = CheckOwn(op.destination, "copy destination"); !s.ok()) {
    return std::move(done)(std::move(s));
  }
  if (op.max_changes == 0) {
    return std::move(done)(
        absl::InvalidArgumentError("copy: max_changes 0 leaves no room for the result"));
  }
  struct CopyState {
    std::vector<uint8_t> payload, acr;
    Command nlc, gcr;
    TransportResult nlc_result, gcr_result;
    PairGate gate;
    Callback<CopyResult> callback;
  };
  auto state = std::make_shared<CopyState>();
  const size_t elements = std::holds_alternative<CopyList>(op.source)
                              ? std::get<CopyList>(op.source).addresses.size() * 8
                              : std::get<CopyBitmap>(op.source).words.size() * 4 + 8;
  state->payload.resize(sizeof(wire::UserAddressRange) + elements);
  state->acr.resize(sizeof(wire::AcrHeader) +
                    uint64_t{op.max_changes} * sizeof(wire::AddressChange));
  state->callback = std::move(done);
  const uint32_t pair = NextPairId();
  cmd::NamelessCopyRequest nlc{
      id_, op.destination, op.source, op.filter, pair, 0, cmd::MutableBytes::Of(state->payload)};
  cmd::GetCopyResultRequest gcr{id_, pair, false, cmd::MutableBytes::Of(state->acr)};
  absl::StatusOr<Command> nlc_cmd = cmd::Encode(nlc, domain_format());
  absl::StatusOr<Command> gcr_cmd = cmd::Encode(gcr, domain_format());
  if (!nlc_cmd.ok() || !gcr_cmd.ok()) {
    return std::move(state->callback)(!nlc_cmd.ok() ? nlc_cmd.status() : gcr_cmd.status());
  }
  state->nlc = *nlc_cmd;
  state->gcr = *gcr_cmd;
  auto finish = [state]() {
    if (!state->gcr_result.ok()) {
      return std::move(state->callback)(internal::StatusOf(state->gcr_result, state->gcr));
    }
    if (!state->nlc_result.ok()) {
      return std::move(state->callback)(internal::StatusOf(state->nlc_result, state->nlc));
    }
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
  unit_->transport_->SubmitPair(
      state->nlc,
      [state, finish](TransportResult r) mutable {
        state->nlc_result = std::move(r);
        if (state->gate.Arrive()) finish();
      },
      state->gcr,
      [state, finish](TransportResult r) mutable {
        state->gcr_result = std::move(r);
        if (state->gate.Arrive()) finish();
      });
}

absl::StatusOr<CopyResult> QosDomain::Copy(const CopyOp& op) {
  SEF_RETURN_IF_ERROR(internal::CheckSynchronousCallAllowed("QosDomain::Copy"));
  return internal::AwaitOn<absl::StatusOr<CopyResult>>(
      *unit_->transport_, [&](Callback<CopyResult> done) { CopyAsync(op, std::move(done)); });
}

}  // namespace sef::hal
