#include "sef/hal/model/testing/fuzz_driver.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/cmd/testing/fuzz_command.h"
#include "sef/hal/cmd/wire.h"

namespace sef::model::testing {

using sef::testing::FuzzTape;
using sef::testing::FuzzTapeWriter;

namespace {

constexpr size_t kMaxKnown = 32;  // remembered domains' SBs, extents
constexpr uint32_t kMaxBufferBytes = 16 << 10;

template <typename T>
void ReadField(FuzzTape& tape, T& v) {
  if constexpr (sizeof(T) == 1) v = tape.U8();
  if constexpr (sizeof(T) == 2) v = tape.U16();
  if constexpr (sizeof(T) == 4) v = tape.U32();
  if constexpr (sizeof(T) == 8) v = tape.U64();
}

template <typename T>
void WriteField(FuzzTapeWriter& w, T v) {
  if constexpr (sizeof(T) == 1) w.U8(v);
  if constexpr (sizeof(T) == 2) w.U16(v);
  if constexpr (sizeof(T) == 4) w.U32(v);
  if constexpr (sizeof(T) == 8) w.U64(v);
}

template <std::size_t I = 0>
FuzzOp OpAt(std::size_t index) {
  if constexpr (I + 1 < std::variant_size_v<FuzzOp>) {
    if (index != I) return OpAt<I + 1>(index);
  }
  return FuzzOp(std::in_place_index<I>);
}

template <typename Op>
NlcOp* CopyPart(Op& op) {
  if constexpr (std::is_same_v<Op, NlcOp>) return &op;
  if constexpr (std::is_same_v<Op, CopyOp>) return &op.nlc;
  return nullptr;
}

}  // namespace

UnitConfig FuzzUnitConfig() {
  UnitConfig c;
  c.name = "fuzz";
  c.serial = "SEFFUZZ0001";
  c.channels = 2;
  c.banks = 2;
  c.planes = 1;
  c.pages_per_block = 2;
  c.blocks_per_die = 8;
  c.plane_data_bytes = 8192;
  c.max_qos_domains = 4;
  c.max_placement_ids = 2;
  c.max_open_super_blocks = 2;
  c.read_fifos = 4;
  c.open_expiration_seconds = 60;
  c.patrol_cycle_minutes = 1;
  c.address = {6, 5};
  c.write_cache = WriteCache::kVolatile;
  return c;
}

FuzzOp ReadFuzzOp(FuzzTape& tape) {
  FuzzOp op = OpAt(tape.U8() % std::variant_size_v<FuzzOp>);
  std::visit(
      [&](auto& o) {
        o.Fields([&](auto& field) { ReadField(tape, field); });
        if (NlcOp* nlc = CopyPart(o)) {
          nlc->tail.resize(nlc->tail_count());
          for (uint32_t& v : nlc->tail) v = tape.U32();
        }
      },
      op);
  return op;
}

void WriteFuzzOp(FuzzTapeWriter& w, const FuzzOp& op) {
  w.U8(static_cast<uint8_t>(op.index()));
  FuzzOp copy = op;
  std::visit(
      [&](auto& o) {
        o.Fields([&](auto& field) { WriteField(w, field); });
        if (NlcOp* nlc = CopyPart(o)) {
          for (uint32_t i = 0; i < nlc->tail_count(); ++i) {
            w.U32(i < nlc->tail.size() ? nlc->tail[i] : 0);
          }
        }
      },
      copy);
}

void WriteRawOp(FuzzTapeWriter& w, const Command& c) {
  WriteFuzzOp(w, RawOp{});
  cmd::testing::WriteFuzzCommand(w, c);
}

// One submitted command: its completion and the memory it references.
struct ModelFuzzDriver::Slot {
  int calls = 0;
  Completion completion;
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  std::vector<iovec> iov;
  std::unique_ptr<cmd::testing::FuzzCommand> raw;
  // What Learn reads once the command completed.
  enum class Kind { kOther, kCreateDomain, kErase, kFar } kind = Kind::kOther;
  QosDomainId domain;
  uint8_t* arr = nullptr;

  uint8_t* Buffer(uint64_t size, uint8_t fill = 0) {
    buffers.push_back(std::make_unique<uint8_t[]>(size));
    std::memset(buffers.back().get(), fill, size);
    return buffers.back().get();
  }
  cmd::MutableBytes Bytes(uint32_t size) { return {Buffer(size), size}; }
};

ModelFuzzDriver::ModelFuzzDriver(Controller& unit, const UnitConfig& config, FakeClock& clock)
    : unit_(unit),
      config_(config),
      clock_(clock),
      trace_(std::getenv("SEF_FUZZ_TRACE") != nullptr) {}

void ModelFuzzDriver::Step(FuzzTape& tape) {
  FuzzOp op = ReadFuzzOp(tape);
  std::visit(
      [&](const auto& o) {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, RawOp>) {
          Run(o, tape);
        } else {
          Run(o);
        }
      },
      op);
  Learn();
}

void ModelFuzzDriver::CheckCompletions() const {
  for (size_t i = 0; i < slots_.size(); ++i) {
    SEF_FUZZ_CHECK(slots_[i]->calls == 1, "command %zu completed %d times", i, slots_[i]->calls);
  }
}

// ---- submission -------------------------------------------------------------------------------

void ModelFuzzDriver::Submit(std::shared_ptr<Slot> slot, Command c) {
  if (mutation_.has_value()) ApplyMutation(*slot, c);
  slots_.push_back(slot);
  unlearned_.push_back(slot);
  const size_t n = slots_.size();
  if (trace_) std::fprintf(stderr, "#%zu %s\n", n, cmd::DescribeCommand(c).c_str());
  unit_.Submit(c, [slot, n, trace = trace_](Completion done) {
    if (trace) {
      std::fprintf(stderr, "%s",
                   absl::StrFormat("  #%u -> %s result 0x%016x\n", n,
                                   absl::FormatStreamed(done.status), done.result)
                       .c_str());
    }
    ++slot->calls;
    slot->completion = done;
    SEF_FUZZ_CHECK(slot->calls == 1, "a command completed twice");
    SEF_FUZZ_CHECK(done.status.ok() || done.status.dnr(), "failure without DNR: raw 0x%04x",
                   done.status.raw());
  });
}

void ModelFuzzDriver::Admin(std::shared_ptr<Slot> slot, const cmd::AdminRequest& r) {
  absl::StatusOr<Command> c = cmd::Encode(r);
  if (c.ok()) Submit(std::move(slot), *c);
}

void ModelFuzzDriver::Io(std::shared_ptr<Slot> slot, const cmd::IoRequest& r) {
  absl::StatusOr<Command> c = cmd::Encode(r, Format());
  if (c.ok()) Submit(std::move(slot), *c);
}

// Changes the command as a buggy or hostile host would, keeping every length honest: a
// buffer of a new length is a new allocation of that length.
void ModelFuzzDriver::OwnIovecs(Slot& slot, Command& c) {
  const auto* iov = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(c.sqe.addr));
  if (iov == slot.iov.data()) return;
  slot.iov.assign(iov, iov == nullptr ? iov : iov + c.sqe.vec_cnt);
  c.sqe.addr = reinterpret_cast<uintptr_t>(slot.iov.data());
}

void ModelFuzzDriver::ApplyMutation(Slot& slot, Command& c) {
  const MutateOp m = *mutation_;
  mutation_.reset();
  if (c.vectored) OwnIovecs(slot, c);
  const uint32_t v = m.value;
  switch (m.field % 8) {
    case 0:
      c.sqe.nsid = v;
      break;
    case 1: {
      uint32_t* cdw[] = {&c.sqe.cdw10, &c.sqe.cdw11, &c.sqe.cdw12,
                         &c.sqe.cdw13, &c.sqe.cdw14, &c.sqe.cdw15};
      *cdw[(v & 0xFF) % 6] ^= (v >> 8) | 1;
      break;
    }
    case 2: {
      const uint32_t len = v % kMaxBufferBytes;
      if (c.vectored && c.sqe.vec_cnt != 0) {
        slot.iov[c.sqe.vec_cnt - 1] = {slot.Buffer(len), len};
        c.sqe.addr = reinterpret_cast<uintptr_t>(slot.iov.data());
      } else if (!c.vectored) {
        const auto* old = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(c.sqe.addr));
        uint8_t* now = slot.Buffer(len);
        if (old != nullptr) std::memcpy(now, old, std::min(len, c.sqe.data_len));
        c.sqe.addr = reinterpret_cast<uintptr_t>(now);
        c.sqe.data_len = len;
      }
      break;
    }
    case 3:
      if (c.vectored) {
        if ((v & 1) && c.sqe.vec_cnt != 0) {
          --c.sqe.vec_cnt;
        } else {
          const uint32_t len = (v >> 1) % kMaxBufferBytes;
          slot.iov.push_back({slot.Buffer(len), len});
          c.sqe.addr = reinterpret_cast<uintptr_t>(slot.iov.data());
          c.sqe.vec_cnt = static_cast<uint32_t>(slot.iov.size());
        }
      }
      break;
    case 4: {
      const uint32_t len = v % 1024;
      c.sqe.metadata = reinterpret_cast<uintptr_t>(slot.Buffer(len));
      c.sqe.metadata_len = len;
      break;
    }
    case 5:
      c.queue = c.queue == QueueType::kIo ? QueueType::kAdmin : QueueType::kIo;
      break;
    case 6:
      c.sqe.opcode = static_cast<uint8_t>(v);
      break;
    case 7:
      if (c.vectored) {  // gather into one contiguous buffer
        const auto* iov = reinterpret_cast<const iovec*>(static_cast<uintptr_t>(c.sqe.addr));
        uint64_t total = 0;
        for (uint32_t i = 0; i < c.sqe.vec_cnt; ++i) total += iov[i].iov_len;
        uint8_t* flat = slot.Buffer(total);
        for (uint32_t i = 0, at = 0; i < c.sqe.vec_cnt; at += iov[i].iov_len, ++i) {
          if (iov[i].iov_len != 0) std::memcpy(flat + at, iov[i].iov_base, iov[i].iov_len);
        }
        c.vectored = false;
        c.sqe.addr = reinterpret_cast<uintptr_t>(flat);
        c.sqe.data_len = static_cast<uint32_t>(total);
      } else {  // wrap in one iovec
        slot.iov.assign(
            1, {reinterpret_cast<void*>(static_cast<uintptr_t>(c.sqe.addr)), c.sqe.data_len});
        c.vectored = true;
        c.sqe.addr = reinterpret_cast<uintptr_t>(slot.iov.data());
        c.sqe.vec_cnt = 1;
      }
      break;
  }
}

// ---- what the unit told us --------------------------------------------------------------------

void ModelFuzzDriver::Learn() {
  auto remember = [](auto& list, auto value) {
    if (std::find(list.begin(), list.end(), value) != list.end()) return;
    if (list.size() >= kMaxKnown) list.erase(list.begin());
    list.push_back(value);
  };
  for (auto it = unlearned_.begin(); it != unlearned_.end();) {
    Slot& s = **it;
    if (s.calls == 0) {
      ++it;
      continue;
    }
    if (s.completion.status.ok()) {
      switch (s.kind) {
        case Slot::Kind::kCreateDomain:
          remember(domains_,
                   cmd::CreateQosDomainResult::FromResult(s.completion.result).domain.value());
          break;
        case Slot::Kind::kErase:
          remember(sbs_[s.domain.value()],
                   cmd::EraseResult::FromResult(s.completion.result).sb.value());
          break;
        case Slot::Kind::kFar: {
          wire::AddressRequestResponse arr;
          std::memcpy(&arr, s.arr, sizeof(arr));
          for (int i = 0; i < std::min<int>(arr.nsb, wire::kMaxArrExtents); ++i) {
            const FlashAddress first = FlashAddress::FromRaw(arr.sbis[i].sfla);
            remember(sbs_[s.domain.value()], first.super_block(config_.address).value());
            if (extents_.size() >= kMaxKnown) extents_.erase(extents_.begin());
            extents_.push_back({first.raw(), arr.sbis[i].nfla});
          }
          break;
        }
        case Slot::Kind::kOther:
          break;
      }
    }
    it = unlearned_.erase(it);
  }
}

QosDomainId ModelFuzzDriver::PickDomain(uint8_t sel) const {
  if (sel < 0xE0 && !domains_.empty()) return QosDomainId(domains_[sel % domains_.size()]);
  return QosDomainId(sel & 0x1F);
}

SuperBlockId ModelFuzzDriver::PickSb(QosDomainId d, uint8_t sel) const {
  if (sel == 0xFF) return kDeviceChoosesSuperBlock;
  auto it = sbs_.find(d.value());
  if (sel < 0xC0 && it != sbs_.end() && !it->second.empty()) {
    return SuperBlockId(it->second[sel % it->second.size()]);
  }
  return SuperBlockId(sel & 0x3F);
}

FlashAddress ModelFuzzDriver::PickAddress(uint8_t extent, uint8_t offset) const {
  if (extents_.empty()) {
    return FlashAddress::FromRaw((uint64_t{PickDomain(extent).value()} << 48) | offset);
  }
  const Extent& e = extents_[extent % extents_.size()];
  return FlashAddress::FromRaw(e.first + offset % (e.adus + 2));
}

cmd::DomainFormat ModelFuzzDriver::Format() const {
  return {config_.address, config_.max_placement_ids};
}

cmd::IoVecs ModelFuzzDriver::Split(Slot& slot, uint64_t bytes, uint8_t split, uint8_t fill) {
  const uint32_t pieces = split % 4 + 1;
  slot.iov.clear();
  uint64_t left = bytes;
  for (uint32_t i = 0; i < pieces; ++i) {
    // Uneven pieces: the first ones take a third of what is left, plus an odd amount.
    const uint64_t len = i + 1 == pieces ? left : std::min<uint64_t>(left, left / 3 + 511 * i);
    slot.iov.push_back({slot.Buffer(len, fill), len});
    left -= len;
  }
  return {slot.iov.data(), static_cast<uint32_t>(slot.iov.size())};
}

// ---- operations -------------------------------------------------------------------------------

void ModelFuzzDriver::Run(const RawOp&, FuzzTape& tape) {
  auto slot = std::make_shared<Slot>();
  slot->raw = cmd::testing::FuzzCommand::Read(
      tape, {.max_data_bytes = 64 << 10, .max_iovecs = 8, .max_metadata_bytes = 4096});
  if (slot->raw == nullptr) return;
  Command c = slot->raw->command();
  Submit(std::move(slot), c);
}

void ModelFuzzDriver::Run(const CapacityOp& op) {
  if (op.flags & 1) Admin(std::make_shared<Slot>(), cmd::SelectCapacityConfigRequest{0});
  if (!(op.flags & 2)) {
    cmd::CapacityConfig config;
    config.id = op.config_id;
    std::vector<cmd::DieId> first, second;
    for (uint16_t die = 0; die < config_.dies() && die < 8; ++die) {
      if (op.mask1 & (1u << die)) {
        first.push_back(cmd::DieId(die));
      } else if (op.mask2 & (1u << die)) {
        second.push_back(cmd::DieId(die));
      }
    }
    if (!first.empty()) config.vds.push_back({PickVd(op.vd1), first});
    if (!second.empty()) config.vds.push_back({PickVd(op.vd2), second});
    auto slot = std::make_shared<Slot>();
    const cmd::MutableBytes payload = slot->Bytes(1024);
    Admin(slot, cmd::SetCapacityConfigRequest{config, payload});
  }
  if (!(op.flags & 4)) {
    Admin(std::make_shared<Slot>(), cmd::SelectCapacityConfigRequest{op.config_id});
  }
}

void ModelFuzzDriver::Run(const VdFeatureOp& op) {
  const VirtualDeviceId vd = PickVd(op.vd);
  const ReadFifoId fifo(op.value % 6);
  auto slot = std::make_shared<Slot>();
  switch (op.sel % 8) {
    case 0:
      return Admin(slot,
                   cmd::SetDiesPerSuperBlockRequest{vd, static_cast<uint16_t>(op.value % 8 + 1)});
    case 1:
    case 2:
      return Admin(slot, cmd::SetReadFifoRequest{vd,
                                                 op.sel % 8 == 1 ? cmd::ReadFifoAction::kAttach
                                                                 : cmd::ReadFifoAction::kChange,
                                                 fifo, op.weight, (op.flag & 1) != 0});
    case 3:
      return Admin(slot, cmd::DetachReadFifoRequest{vd, fifo});
    case 4:
      return Admin(slot, cmd::SetPslcSuperBlocksRequest{vd, op.value % 40});
    case 5:
      return Admin(slot, cmd::SetVdAenControlRequest{vd, static_cast<uint8_t>(op.value & 7)});
    case 6:
      return Admin(slot, cmd::SetSuspendConfigRequest{vd, op.value});
    default:
      return Admin(slot, cmd::ResetSchedulerRequest{vd});
  }
}

void ModelFuzzDriver::Run(const CreateDomainOp& op) {
  cmd::QosDomainSpec spec;
  spec.vd = PickVd(op.vd);
  spec.capacity = PlanePageCount(op.capacity);
  spec.quota = PlanePageCount(std::max(op.quota, op.capacity));
  spec.pslc_capacity = PlanePageCount(op.pslc_capacity);
  spec.pslc_quota = PlanePageCount(std::max(op.pslc_quota, op.pslc_capacity));
  spec.num_placement_ids = static_cast<uint16_t>(op.placement_ids % 3 + 1);
  spec.max_open_super_blocks = static_cast<uint16_t>(op.max_open % 4);
  spec.default_read_fifo = ReadFifoId(op.fifo % 6);
  spec.deadline = static_cast<cmd::ReadDeadline>(op.flags >> 1 & 3);
  auto slot = std::make_shared<Slot>();
  slot->kind = Slot::Kind::kCreateDomain;
  const cmd::MutableBytes payload = slot->Bytes(4096);
  Admin(slot, cmd::CreateQosDomainRequest{spec, payload});
  Learn();
  if ((op.flags & 1) && slot->calls == 1 && slot->completion.status.ok()) {
    auto attach = std::make_shared<Slot>();
    const QosDomainId id = cmd::CreateQosDomainResult::FromResult(slot->completion.result).domain;
    const cmd::MutableBytes list = attach->Bytes(4096);
    Admin(attach, cmd::AttachQosDomainRequest{id, cmd::AttachAction::kAttach, 0, list});
  }
}

void ModelFuzzDriver::Run(const DomainOp& op) {
  const QosDomainId d = PickDomain(op.domain);
  auto slot = std::make_shared<Slot>();
  switch (op.action % 9) {
    case 0:
    case 1: {
      const cmd::MutableBytes list = slot->Bytes(4096);
      return Admin(
          slot, cmd::AttachQosDomainRequest{
                    d, op.action % 9 == 0 ? cmd::AttachAction::kAttach : cmd::AttachAction::kDetach,
                    static_cast<uint16_t>(op.a >= 0xF0 ? op.a & 0xF : 0), list});
    }
    case 2:
      return Admin(slot, cmd::DeleteQosDomainRequest{d});
    case 3:
      return Admin(slot, cmd::SetQosDomainCapacityRequest{d, (op.a & 1) != 0, PlanePageCount(op.b),
                                                          PlanePageCount(std::max(op.b, op.c))});
    case 4:
      return Admin(slot, cmd::SetMaxOpenSuperBlocksRequest{d, static_cast<uint16_t>(op.a % 4)});
    case 5:
      return Admin(slot, cmd::SetDefaultReadFifoRequest{d, ReadFifoId(op.a % 6)});
    case 6:
      return Admin(slot, cmd::SetRootPointerRequest{d, static_cast<uint8_t>(op.a % 9),
                                                    FlashAddress::FromRaw(op.d)});
    case 7:
      return Admin(slot, cmd::SetWeightsRequest{d, op.b, op.c});
    default:
      return Admin(slot, cmd::SetReadDeadlineRequest{d, static_cast<cmd::ReadDeadline>(op.a % 4)});
  }
}

void ModelFuzzDriver::Run(const SbmOp& op) {
  static constexpr wire::SbOperation kOps[] = {
      wire::SbOperation::kErase,  wire::SbOperation::kClose, wire::SbOperation::kFree,
      wire::SbOperation::kPatrol, wire::SbOperation::kFlush, wire::SbOperation::kPslcErase};
  const QosDomainId d = PickDomain(op.domain);
  const wire::SbOperation sbop = kOps[op.op % 6];
  auto slot = std::make_shared<Slot>();
  if (sbop == wire::SbOperation::kErase || sbop == wire::SbOperation::kPslcErase) {
    slot->kind = Slot::Kind::kErase;
    slot->domain = d;
  }
  const uint32_t buffer = (op.buffer % 1025) & ~3u;
  cmd::SuperBlockManagementRequest r{
      d, sbop, PickSb(d, op.sb), sbop == wire::SbOperation::kFree ? uint16_t{0} : op.erase_weight,
      buffer == 0 ? cmd::MutableBytes{} : slot->Bytes(buffer)};
  Io(slot, r);
}

cmd::FlashAddressRequest ModelFuzzDriver::MakeFar(Slot& slot, QosDomainId d, uint8_t target,
                                                  uint32_t nlwid) {
  cmd::FlashAddressRequest far;
  far.domain = d;
  if (target & 0x80) {
    far.target = PickSb(d, target & 0x7F);
  } else {
    far.target = PlacementId(target & 3);
  }
  far.nlwid = nlwid;
  far.arr = slot.Bytes(sizeof(wire::AddressRequestResponse));
  slot.kind = ModelFuzzDriver::Slot::Kind::kFar;
  slot.domain = d;
  slot.arr = far.arr.data;
  return far;
}

cmd::NamelessWriteRequest ModelFuzzDriver::MakeWrite(Slot& slot, QosDomainId d, uint8_t target,
                                                     uint8_t adus, uint8_t flags, uint32_t lba,
                                                     uint8_t split, uint32_t nlwid) {
  cmd::NamelessWriteRequest nlw;
  nlw.domain = d;
  if (target & 0x80) {
    nlw.target = PickSb(d, target & 0x7F);
  } else {
    nlw.target = cmd::ByPlacement{PlacementId(target & 3), (flags & 2) != 0};
  }
  nlw.adus = AduCount(adus % 24 + 1);
  nlw.fua = flags & 1;
  nlw.limited_retry = flags & 8;
  nlw.start = (flags & 16) ? UserAddress::Ignore() : UserAddress::FromRaw(lba);
  nlw.nlwid = nlwid;
  nlw.data = Split(slot, uint64_t{nlw.adus.value()} * wire::kAduDataBytes, split,
                   static_cast<uint8_t>(lba));
  if (flags & 4) {
    const uint32_t bytes = nlw.adus.value() * wire::kAduMetaBytes;
    nlw.metadata = {slot.Buffer(bytes, static_cast<uint8_t>(lba >> 8)), bytes};
  }
  return nlw;
}

void ModelFuzzDriver::Run(const FarOp& op) {
  auto slot = std::make_shared<Slot>();
  const cmd::FlashAddressRequest far =
      MakeFar(*slot, PickDomain(op.domain), op.target, op.nlwid % 4 + 1);
  Io(slot, far);
}

void ModelFuzzDriver::Run(const NlwOp& op) {
  auto slot = std::make_shared<Slot>();
  Io(slot, MakeWrite(*slot, PickDomain(op.domain), op.target, op.adus, op.flags, op.lba, op.split,
                     op.nlwid % 4 + 1));
}

void ModelFuzzDriver::Run(const WriteOp& op) {
  const QosDomainId d = PickDomain(op.domain);
  const uint32_t nlwid = next_pair_id_++;
  auto far = std::make_shared<Slot>();
  Io(far, MakeFar(*far, d, op.target, nlwid));
  auto nlw = std::make_shared<Slot>();
  Io(nlw, MakeWrite(*nlw, d, op.target, op.adus, op.flags, op.lba, op.split, nlwid));
}

void ModelFuzzDriver::Run(const ReadOp& op) {
  auto slot = std::make_shared<Slot>();
  cmd::ReadRequest r;
  r.address = PickAddress(op.extent, op.offset);
  r.adus = AduCount(op.adus % 8 + 1);
  if (op.flags & 1) r.verify = UserAddress::FromRaw(op.verify);
  if (op.flags & 8) r.fifo = ReadFifoId(op.fifo % 6);
  if (!(op.flags & 4))
    r.data = Split(*slot, uint64_t{r.adus.value()} * wire::kAduDataBytes, op.split, 0);
  if (op.flags & 2) r.metadata = slot->Bytes(r.adus.value() * wire::kAduMetaBytes);
  Io(slot, r);
}

cmd::NamelessCopyRequest ModelFuzzDriver::MakeCopy(Slot& slot, const NlcOp& op, uint32_t nlcid) {
  cmd::NamelessCopyRequest r;
  r.destination = PickDomain(op.domain);
  r.destination_sb = PickSb(r.destination, op.dest_sb == 0xFF ? 0 : op.dest_sb);
  r.nlcid = nlcid;
  if (op.kind & 1) {
    cmd::CopyBitmap bitmap;
    bitmap.start = PickAddress(op.start, 0);
    bitmap.words = op.tail;
    r.source = std::move(bitmap);
  } else {
    cmd::CopyList list;
    for (uint32_t v : op.tail) {
      list.addresses.push_back(PickAddress(static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)));
    }
    r.source = std::move(list);
  }
  if (op.filter & 1) {
    r.filter =
        cmd::UserAddressFilter{UserAddress::FromRaw(op.filter_start),
                               std::max<uint64_t>(op.filter_length, 1), (op.filter & 2) != 0};
  }
  r.payload = slot.Bytes(1024);
  return r;
}

void ModelFuzzDriver::Run(const NlcOp& op) {
  auto slot = std::make_shared<Slot>();
  Io(slot, MakeCopy(*slot, op, op.nlcid % 4 + 1));
}

void ModelFuzzDriver::Gcr(uint8_t domain, uint32_t nlcid, uint8_t entries, uint8_t fua) {
  auto slot = std::make_shared<Slot>();
  const uint32_t bytes = sizeof(wire::AcrHeader) + (entries % 32 + 1) * sizeof(wire::AddressChange);
  Io(slot,
     cmd::GetCopyResultRequest{PickDomain(domain), nlcid, (fua & 1) != 0, slot->Bytes(bytes)});
}

void ModelFuzzDriver::Run(const GcrOp& op) {
  Gcr(op.domain, op.nlcid % 4u + 1, op.entries, op.fua);
}

void ModelFuzzDriver::Run(const CopyOp& op) {
  const uint32_t nlcid = next_pair_id_++;
  auto nlc = std::make_shared<Slot>();
  Io(nlc, MakeCopy(*nlc, op.nlc, nlcid));
  Gcr(op.nlc.domain, nlcid, op.entries, op.fua);
}

void ModelFuzzDriver::Run(const AerOp&) {
  Command c;
  c.queue = QueueType::kAdmin;
  c.sqe.opcode = static_cast<uint8_t>(wire::AdminOpcode::kAsyncEventRequest);
  Submit(std::make_shared<Slot>(), c);
}

void ModelFuzzDriver::Run(const LogOp& op) {
  auto slot = std::make_shared<Slot>();
  const cmd::MutableBytes buffer = slot->Bytes(std::max<uint32_t>((op.buffer % 8193) & ~3u, 4));
  const cmd::MutableBytes page = slot->Bytes(4096);
  const VirtualDeviceId vd = (op.arg & 0x80) ? kPendingEventVirtualDevice : PickVd(op.target);
  const QosDomainId d = PickDomain(op.target);
  const bool rae = op.rae & 1;
  switch (op.kind % 16) {
    case 0:
      return Admin(slot, cmd::VdInfoLogRequest{vd, rae, buffer});
    case 1:
      return Admin(slot, cmd::QosDomainListLogRequest{PickVd(op.target), buffer});
    case 2:
      return Admin(slot,
                   cmd::SuperBlockListLogRequest{d, static_cast<wire::SbListOrder>(op.arg % 5),
                                                 op.offset & 0xFFC, buffer});
    case 3:
      return Admin(
          slot, cmd::SuperBlockInfoLogRequest{vd, PickSb(d, op.arg & 0x7F), rae, slot->Bytes(256)});
    case 4:
      return Admin(slot,
                   cmd::UserAddressListLogRequest{d, PickSb(d, op.arg), op.offset & 0xFFC, buffer});
    case 5:
      return Admin(slot, cmd::AddressChangeOrderLogRequest{d, op.offset | 1, buffer});
    case 6:
      return Admin(slot, cmd::ReadFifoLogRequest{PickVd(op.target), buffer});
    case 7:
      return Admin(slot, cmd::GetReadFifoListRequest{PickVd(op.target), buffer});
    case 8:
      return Admin(slot, cmd::IdentifyControllerRequest{page});
    case 9:
      return Admin(slot, cmd::IdentifySefControllerRequest{page});
    case 10:
      return Admin(slot, cmd::IdentifySefNamespaceRequest{d, page});
    case 11:
      return Admin(slot, cmd::IdentifyVirtualDeviceListRequest{VirtualDeviceId(op.arg), page});
    case 12:
      return Admin(slot, cmd::IdentifyCommandSetVectorRequest{page});
    case 13:
      return Admin(slot, cmd::GetCapacityConfigRequest{buffer});
    case 14:
      return Admin(slot, cmd::GetRootPointerRequest{d, static_cast<uint8_t>(op.arg % 8)});
    default:
      return Admin(slot, cmd::SelectCapacityConfigRequest{op.arg});
  }
}

void ModelFuzzDriver::Run(const TimeOp& op) {
  const uint64_t seed = op.seconds & 0xFF;
  switch (op.seconds >> 8) {
    case 0xF0:
      return unit_.PowerCut(seed);
    case 0xF1: {
      const absl::Status s = unit_.PowerOn();
      SEF_FUZZ_CHECK(s.ok() || s.code() == absl::StatusCode::kFailedPrecondition, "power on: %s",
                     s.ToString().c_str());
      return;
    }
    case 0xF2:
      return unit_.CutPowerAfter(seed % 16, seed);
    default:
      clock_.Advance(std::chrono::seconds(op.seconds));
      unit_.Tick();
  }
}

void ModelFuzzDriver::Run(const ResetOp&) { unit_.AbortOutstanding(); }

void ModelFuzzDriver::Run(const MutateOp& op) { mutation_ = op; }

}  // namespace sef::model::testing
