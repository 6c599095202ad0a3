// The data path: writes and appends (accepted by the zone pipeline, zones.cc; submitted and
// verified here), reads and flush.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sef/base/iovec.h"
#include "sef/hal/cmd/wire.h"
#include "sef/zns/internal/format.h"
#include "sef/zns/internal/namespace.h"

namespace sef::zns::internal {

namespace sc = wire::sc;

namespace {

// The iovecs covering bytes [offset, offset + length) of `data`.
absl::InlinedVector<iovec, 4> Slice(std::span<const iovec> data, uint64_t offset, uint64_t length) {
  absl::InlinedVector<iovec, 4> out;
  SliceIovecs(data, offset, length, out);
  return out;
}

void ZeroFill(std::span<const iovec> data, uint64_t offset, uint64_t length) {
  for (const iovec& v : Slice(data, offset, length)) std::memset(v.iov_base, 0, v.iov_len);
}

}  // namespace

// ---- writes and appends ----------------------------------------------------------------------

void Namespace::Write(uint32_t zone, uint64_t lba, uint32_t count, std::span<const iovec> data,
                      bool fua, bool append, StatusCallback done, Callback<Lba> done_lba) {
  Acks acks;
  Step step;
  {
    MutexLock lock(&mu_);
    WriteIo* io = NewWriteIo();
    io->zone = zone;
    io->lba = lba;
    io->count = count;
    io->data = data;
    io->fua = fua;
    io->append = append;
    if (append) {
      io->done_lba = std::move(done_lba);
    } else {
      io->done = std::move(done);
    }
    Take(2);  // the command's (returned after its callback) and this call's
    if (absl::Status s = Admit(); !s.ok()) {
      Refuse(io, std::move(s), acks);
    } else if (AcceptWrite(io, false, acks)) {
      step = NextStep(zone, acks);
    }
  }
  Continue(zone, step, acks, 1);
}

// Submits `io` as one nameless write into the zone's super block, or as several when it is
// longer than one device command carries, back to back: the device appends them in this order.
void Namespace::SubmitIo(WriteIo* io, SuperBlockId sb) {
  const uint32_t max = geometry_.max_transfer_blocks;
  const uint64_t first_lba = Zslba(io->zone) + io->start;
  const uint32_t count = io->count;
  const std::span<const iovec> data = io->data;
  const bool fua = io->fua;
  if (count <= max) {
    // (The callback fits in AnyInvocable's own storage: no allocation for it.)
    return domain_->WriteAsync(
        {.target = sb, .start = DataAddress(first_lba), .data = data, .fua = fua},
        [this, io](absl::StatusOr<hal::WriteResult> r) { ChunkDone(io, 0, std::move(r)); });
  }
  for (uint32_t offset = 0; offset < count; offset += max) {
    const uint32_t n = std::min(max, count - offset);
    // The HAL copies the iovec array: the slice may go once the call returns.
    const auto slice = Slice(data, uint64_t{offset} * kBlockBytes, uint64_t{n} * kBlockBytes);
    domain_->WriteAsync(
        {.target = sb, .start = DataAddress(first_lba + offset), .data = slice, .fua = fua},
        [this, io, offset](absl::StatusOr<hal::WriteResult> r) {
          ChunkDone(io, offset, std::move(r));
        });
    // `io` may be gone now (its last chunk completed inline).
  }
}

void Namespace::ChunkDone(WriteIo* io, uint32_t offset, absl::StatusOr<hal::WriteResult> r) {
  // The device must have put every block exactly where it was reserved: anything else means
  // the writes into this super block did not reach it in submission order.
  absl::Status s;
  bool landed = false;
  const uint32_t zone = io->zone;
  const uint32_t n = std::min(geometry_.max_transfer_blocks, io->count - offset);
  const uint64_t expected = io->sb_base + io->start + offset;
  if (!r.ok()) {
    s = std::move(r).status();
  } else {
    landed = !r->addresses.empty();
    if (r->not_written != 0 || r->addresses.size() != n) {
      s = Refusal(GenericStatus(sc::kInternalError),
                  absl::StrFormat("Write at LBA %u: the device wrote %u of %u blocks into the "
                                  "super block of zone %u",
                                  Zslba(zone) + io->start + offset, r->addresses.size(), n, zone));
    }
    for (uint32_t i = 0; s.ok() && i < n; ++i) {
      if (r->addresses[i].raw() != expected + i) {
        s = Refusal(GenericStatus(sc::kInternalError),
                    absl::StrFormat("Write at LBA %u: the device placed it at flash address "
                                    "0x%016x, not at its reserved 0x%016x (zone %u is finished)",
                                    Zslba(zone) + io->start + offset + i, r->addresses[i].raw(),
                                    expected + i, zone));
      }
    }
  }
  Acks acks;
  Step step;
  {
    MutexLock lock(&mu_);
    io->landed |= landed;
    if (!s.ok() && io->status.ok()) io->status = std::move(s);
    if (--io->chunks_left == 0) {
      io->finished = true;
      if (!io->status.ok() && io->gen == zones_[zone].gen) WriteFailed(zone, io);
      PopCompleted(zone, acks);
    }
    step = NextStep(zone, acks);
  }
  Continue(zone, step, acks, 1);
}

// ---- reads -----------------------------------------------------------------------------------

// One read: a part per zone it touches; a part below the zone's write pointer is read from
// the device, the rest is zeros. Parts are read in flight together; the first error wins.
struct Namespace::ReadIo {
  struct Part {
    uint32_t zone;
    uint64_t gen;
    uint64_t address;  // raw flash address of its first block
    uint32_t first;    // its first block's index in the read
    uint32_t device;   // blocks read from the device (below the write pointer)
    uint32_t zeros;    // blocks that read as zeros after them
  };
  Namespace* ns;
  uint64_t lba;
  std::span<const iovec> data;
  StatusCallback done;
  absl::InlinedVector<Part, 2> parts;
  uint32_t device_parts = 0;
  std::atomic<uint32_t> pending{0};
  Mutex mu;
  absl::Status status ABSL_GUARDED_BY(mu);
};

void Namespace::Read(Lba lba, uint32_t blocks, std::span<const iovec> data, StatusCallback done) {
  auto r = std::make_unique<ReadIo>();
  r->ns = this;
  r->lba = lba.value();
  r->data = data;
  absl::Status refused;
  {
    MutexLock lock(&mu_);
    refused = Admit();
    for (uint32_t first = 0; refused.ok() && first < blocks;) {
      const uint64_t at = lba.value() + first;
      const uint32_t zone = static_cast<uint32_t>(at >> shift_);
      const Zone& z = zones_[zone];
      if (NvmeStatus st = ReadStateStatus(z.state); !st.ok()) {
        refused = Refusal(st, absl::StrFormat("Read of %u blocks at LBA %u: zone %u is offline",
                                              blocks, lba.value(), zone));
        break;
      }
      const uint32_t offset = static_cast<uint32_t>(at - Zslba(zone));
      const uint32_t n =
          static_cast<uint32_t>(std::min<uint64_t>(blocks - first, geometry_.zone_size - offset));
      const uint32_t device = offset < z.wp ? std::min(n, z.wp - offset) : 0;
      r->parts.push_back({zone, z.gen, z.sb_base + offset, first, device, n - device});
      r->device_parts += device > 0;
      first += n;
    }
    // The command's token and one per device read, all returned by the last to complete.
    if (refused.ok()) Take(1 + r->device_parts);
  }
  if (!refused.ok()) {
    CallbackScope scope;
    return std::move(done)(std::move(refused));
  }
  for (const ReadIo::Part& p : r->parts) {
    if (p.zeros > 0) {
      ZeroFill(data, uint64_t{p.first + p.device} * kBlockBytes, uint64_t{p.zeros} * kBlockBytes);
    }
  }
  if (r->device_parts == 0) {
    {
      CallbackScope scope;
      std::move(done)(absl::OkStatus());
    }
    return Release(1);
  }
  r->done = std::move(done);
  r->pending.store(r->device_parts, std::memory_order_relaxed);
  // What to submit, copied out: `io` may be gone once its last part completed (inline).
  const absl::InlinedVector<ReadIo::Part, 2> parts = r->parts;
  const bool whole = parts.size() == 1 && parts[0].zeros == 0;
  ReadIo* io = r.release();
  for (size_t i = 0; i < parts.size(); ++i) {
    const ReadIo::Part& p = parts[i];
    if (p.device == 0) continue;
    hal::ReadOp op{.address = FlashAddress::FromRaw(p.address),
                   .adus = AduCount(p.device),
                   .verify = DataAddress(lba.value() + p.first)};
    const auto part_done = [io, i](absl::Status s) { io->ns->ReadDone(io, i, std::move(s)); };
    if (whole) {
      op.data = data;
      domain_->ReadAsync(op, part_done);
    } else {
      const auto slice =
          Slice(data, uint64_t{p.first} * kBlockBytes, uint64_t{p.device} * kBlockBytes);
      op.data = slice;
      domain_->ReadAsync(op, part_done);
    }
  }
}

void Namespace::ReadDone(ReadIo* io, size_t part, absl::Status s) {
  const ReadIo::Part& p = io->parts[part];
  if (!s.ok()) {
    // A read that failed because its zone was reset meanwhile reads zeros, as it would have
    // after the reset.
    bool reset;
    {
      MutexLock lock(&mu_);
      reset = zones_[p.zone].gen != p.gen;
    }
    if (reset) {
      ZeroFill(io->data, uint64_t{p.first} * kBlockBytes, uint64_t{p.device} * kBlockBytes);
      s = absl::OkStatus();
    }
  }
  if (!s.ok()) {
    MutexLock lock(&io->mu);
    if (io->status.ok()) io->status = std::move(s);
  }
  if (io->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  absl::Status status;
  {
    MutexLock lock(&io->mu);
    status = std::move(io->status);
  }
  {
    CallbackScope scope;
    std::move(io->done)(std::move(status));
  }
  const uint32_t tokens = 1 + io->device_parts;
  delete io;
  Release(tokens);
}

// ---- flush -----------------------------------------------------------------------------------

void Namespace::Flush(StatusCallback done) {
  struct Target {
    uint32_t zone;
    SuperBlockId sb;
  };
  std::vector<Target> targets;
  absl::Status refused;
  {
    MutexLock lock(&mu_);
    refused = Admit();
    if (refused.ok()) {
      // Every block a completed write put in a super block that is still open (closed ones
      // are durable, released ones hold nothing the host can read).
      for (uint32_t zone = 0; zone < geometry_.zones; ++zone) {
        const Zone& z = zones_[zone];
        if (z.sb_state == SbState::kOpen || z.sb_state == SbState::kClosing) {
          targets.push_back({zone, z.sb});
        }
      }
      Take(1 + static_cast<uint32_t>(targets.size()));
    }
  }
  if (!refused.ok() || targets.empty()) {
    const bool took = refused.ok();
    {
      CallbackScope scope;
      std::move(done)(std::move(refused));
    }
    if (took) Release(1);
    return;
  }
  struct FlushState {
    std::atomic<size_t> pending;
    Mutex mu;
    absl::Status status ABSL_GUARDED_BY(mu);
    StatusCallback done;
  };
  auto state = std::make_shared<FlushState>();
  state->pending.store(targets.size(), std::memory_order_relaxed);
  state->done = std::move(done);
  for (const Target& t : targets) {
    domain_->FlushSuperBlockAsync(t.sb, [this, state, t](absl::StatusOr<uint32_t> r) {
      absl::Status s = r.status();
      if (!s.ok()) {
        // A super block released meanwhile (Reset) has nothing left to flush.
        MutexLock lock(&mu_);
        const Zone& z = zones_[t.zone];
        const bool still_there =
            z.sb == t.sb && z.sb_state != SbState::kNone && z.sb_state != SbState::kReleasing;
        if (!still_there) s = absl::OkStatus();
      }
      if (!s.ok()) {
        MutexLock lock(&state->mu);
        if (state->status.ok()) state->status = std::move(s);
      }
      if (state->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        absl::Status final_status;
        {
          MutexLock lock(&state->mu);
          final_status = std::move(state->status);
        }
        {
          CallbackScope scope;
          std::move(state->done)(std::move(final_status));
        }
        Release(1);
      }
      Release(1);
    });
  }
}

}  // namespace sef::zns::internal
