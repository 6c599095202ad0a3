// I/O commands: Super Block Management, FAR, Nameless Write, Read, Nameless Copy, Get Copy
// Result. NSID is the QoS domain (the destination, for a copy).
#include <cstring>

#include "absl/status/status.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/internal/decoders.h"
#include "sef/hal/cmd/internal/fields.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {
namespace {

using internal::Get;
using internal::Invalid;
using internal::Put;
using wire::IoOpcode;

constexpr uint32_t kSbiBit = 25;  // CDW12[25]: the command names a super block

Command IoCommand(IoOpcode op, uint32_t nsid) {
  return internal::NewCommand(QueueType::kIo, static_cast<uint8_t>(op), nsid);
}

// The 48-bit "flash address" of a super block as FAR, NLW and NLC carry it: SB id above an
// all-ones ADU offset (the device appends), QoS domain bits zero. Decision: FAR carries the
// same value as its NLW, so both halves of a pair name the SB identically.
uint64_t SuperBlockField(SuperBlockId sb, const AddressFormat& f) {
  return (uint64_t{sb.value()} << f.adu_offset_bits) | f.max_adu_offset();
}

// Which ADU offsets a command may carry with the super block it names.
enum class OffsetForm {
  kAllOnes,        // NLW, NLC: the device appends
  kAllOnesOrZero,  // FAR: libsef sends the SB's own flash address (offset 0); ignored alike
};

absl::StatusOr<SuperBlockId> SuperBlockOfField(uint64_t field, const AddressFormat& f,
                                               std::string_view what,
                                               OffsetForm form = OffsetForm::kAllOnes) {
  SEF_RETURN_IF_ERROR(f.Validate());
  const uint64_t offset = field & f.max_adu_offset();
  if (offset != f.max_adu_offset() && !(form == OffsetForm::kAllOnesOrZero && offset == 0)) {
    return Invalid("%s: ADU offset 0x%x given; this device appends (ADU offset all ones%s)", what,
                   offset, form == OffsetForm::kAllOnesOrZero ? " or 0" : "");
  }
  const uint64_t sb = field >> f.adu_offset_bits;
  if (sb > f.max_super_block_id()) {
    return Invalid("%s: super block field 0x%x is wider than the virtual device's %d bits", what,
                   sb, f.sb_bits);
  }
  return SuperBlockId(static_cast<uint32_t>(sb));
}

uint64_t Field48(const Command& c) {
  return internal::Join64(c.sqe.cdw14, Get(c.sqe.cdw15, 15, 0));
}

absl::Status CheckPlacement(PlacementId pid, const DomainFormat& f, std::string_view what) {
  if (pid.value() >= f.num_placement_ids) {
    return Invalid("%s: placement id %u is above the domain's maximum %u", what, pid.value(),
                   f.num_placement_ids - 1);
  }
  return absl::OkStatus();
}

absl::Status CheckAduCount(AduCount n, std::string_view what) {
  if (n.value() == 0 || n.value() > wire::kMaxAdusPerCommand) {
    return Invalid("%s: ADU count %u is outside 1..%u", what, n.value(), wire::kMaxAdusPerCommand);
  }
  return absl::OkStatus();
}

absl::Status CheckVecs(const IoVecs& v, uint64_t expected, std::string_view what) {
  if (v.count > 0 && v.iov == nullptr) return Invalid("%s: %u iovecs at null", what, v.count);
  if (v.total_bytes() != expected) {
    return Invalid("%s: data buffers hold %u bytes, the ADU count needs %u", what, v.total_bytes(),
                   expected);
  }
  return absl::OkStatus();
}

absl::Status CheckMetadata(const void* data, uint32_t size, AduCount n, std::string_view what) {
  if (size == 0) return absl::OkStatus();
  if (data == nullptr) return Invalid("%s: %u metadata bytes at null", what, size);
  if (size != uint64_t{n.value()} * wire::kAduMetaBytes) {
    return Invalid("%s: metadata buffer of %u bytes, the ADU count needs %u", what, size,
                   uint64_t{n.value()} * wire::kAduMetaBytes);
  }
  return absl::OkStatus();
}

// ---- validation -----------------------------------------------------------------------------

bool IsKnown(SbOperation op) {
  switch (op) {
    case SbOperation::kErase:
    case SbOperation::kClose:
    case SbOperation::kFree:
    case SbOperation::kPatrol:
    case SbOperation::kFlush:
    case SbOperation::kPslcErase:
      return true;
  }
  return false;
}

absl::Status Validate(const SuperBlockManagementRequest& r, const DomainFormat& f) {
  constexpr std::string_view kWhat = "super block management";
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, kWhat));
  if (!IsKnown(r.op)) {
    return Invalid("super block management: operation %d is not 0-4 or 8", static_cast<int>(r.op));
  }
  const bool erase = r.op == SbOperation::kErase || r.op == SbOperation::kPslcErase;
  if (r.sb == kDeviceChoosesSuperBlock) {
    if (!erase) {
      return Invalid("super block management: operation %d needs a super block id, not 0x%x",
                     static_cast<int>(r.op), r.sb.value());
    }
  } else {
    SEF_RETURN_IF_ERROR(internal::CheckSuperBlock(r.sb, f.address, kWhat));
  }
  if (r.op == SbOperation::kFree && r.erase_weight != 0) {
    return Invalid("super block management: free takes no erase weight (got %u)", r.erase_weight);
  }
  if (r.buffer.size != 0) {
    SEF_RETURN_IF_ERROR(internal::CheckDataIn(r.buffer, kWhat));
    if (r.buffer.size / 4 > 0xFFFF) {
      return Invalid("super block management: buffer of %u bytes exceeds the 16-bit NUMD",
                     r.buffer.size);
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const FlashAddressRequest& r, const DomainFormat& f) {
  constexpr std::string_view kWhat = "flash address request";
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, kWhat));
  SEF_RETURN_IF_ERROR(internal::CheckPairId(r.nlwid, "flash address request: NLWID"));
  if (const auto* pid = std::get_if<PlacementId>(&r.target)) {
    SEF_RETURN_IF_ERROR(CheckPlacement(*pid, f, kWhat));
  } else {
    SEF_RETURN_IF_ERROR(
        internal::CheckSuperBlock(std::get<SuperBlockId>(r.target), f.address, kWhat));
  }
  return internal::CheckExactly(r.arr, kWhat, sizeof(wire::AddressRequestResponse));
}

absl::Status Validate(const NamelessWriteRequest& r, const DomainFormat& f) {
  constexpr std::string_view kWhat = "nameless write";
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.domain, kWhat));
  SEF_RETURN_IF_ERROR(internal::CheckPairId(r.nlwid, "nameless write: NLWID"));
  SEF_RETURN_IF_ERROR(CheckAduCount(r.adus, kWhat));
  if (const auto* by = std::get_if<ByPlacement>(&r.target)) {
    SEF_RETURN_IF_ERROR(CheckPlacement(by->placement, f, kWhat));
  } else {
    SEF_RETURN_IF_ERROR(
        internal::CheckSuperBlock(std::get<SuperBlockId>(r.target), f.address, kWhat));
  }
  if (!r.start.is_ignore() && r.start.lba().value() + (r.adus.value() - 1) > UserAddress::kMaxLba) {
    return Invalid("nameless write: user addresses from LBA %u for %u ADUs pass 2^40 - 1",
                   r.start.lba().value(), r.adus.value());
  }
  SEF_RETURN_IF_ERROR(CheckVecs(r.data, uint64_t{r.adus.value()} * wire::kAduDataBytes, kWhat));
  return CheckMetadata(r.metadata.data, r.metadata.size, r.adus, kWhat);
}

absl::Status Validate(const ReadRequest& r, const DomainFormat& f) {
  constexpr std::string_view kWhat = "read";
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.address.domain(), kWhat));
  SEF_RETURN_IF_ERROR(CheckAduCount(r.adus, kWhat));
  SEF_RETURN_IF_ERROR(f.address.Validate());
  const int used_bits = f.address.sb_bits + f.address.adu_offset_bits;
  if (used_bits < 48 && (r.address.low48() >> used_bits) != 0) {
    return Invalid(
        "read: flash address 0x%x has a super block id wider than the virtual "
        "device's %d-bit field",
        r.address.raw(), f.address.sb_bits);
  }
  const uint64_t last = uint64_t{r.address.adu_offset(f.address).value()} + r.adus.value() - 1;
  if (last > f.address.max_adu_offset()) {
    return Invalid("read: %u ADUs from offset %u run past the %d-bit ADU offset field",
                   r.adus.value(), r.address.adu_offset(f.address).value(),
                   f.address.adu_offset_bits);
  }
  if (r.data.count == 0 && r.metadata.size == 0) {
    return Invalid("read: neither data nor metadata buffers given");
  }
  if (r.data.count != 0) {
    SEF_RETURN_IF_ERROR(CheckVecs(r.data, uint64_t{r.adus.value()} * wire::kAduDataBytes, kWhat));
  }
  return CheckMetadata(r.metadata.data, r.metadata.size, r.adus, kWhat);
}

uint32_t SourceElements(const CopySource& s) {
  if (const auto* b = std::get_if<CopyBitmap>(&s)) return static_cast<uint32_t>(b->words.size());
  return static_cast<uint32_t>(std::get<CopyList>(s).addresses.size());
}

uint32_t SourceBytes(const CopySource& s) {
  if (const auto* b = std::get_if<CopyBitmap>(&s)) {
    return wire::kNlcBitmapHeaderBytes + static_cast<uint32_t>(b->words.size()) * 4;
  }
  return sizeof(wire::UserAddressRange) +
         static_cast<uint32_t>(std::get<CopyList>(s).addresses.size()) * 8;
}

absl::Status Validate(const NamelessCopyRequest& r, const DomainFormat& f) {
  constexpr std::string_view kWhat = "nameless copy";
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.destination, kWhat));
  SEF_RETURN_IF_ERROR(internal::CheckPairId(r.nlcid, "nameless copy: NLCID"));
  SEF_RETURN_IF_ERROR(internal::CheckSuperBlock(r.destination_sb, f.address, kWhat));
  const uint32_t n = SourceElements(r.source);
  if (n == 0 || n > wire::kMaxAdusPerCommand) {
    return Invalid("nameless copy: %u source %s is outside 1..%u", n,
                   std::holds_alternative<CopyBitmap>(r.source) ? "bitmap words" : "addresses",
                   wire::kMaxAdusPerCommand);
  }
  if (r.filter.has_value() && r.filter->length == 0) {
    return Invalid("nameless copy: user address filter of length 0 (leave the filter unset)");
  }
  if (r.payload.data == nullptr || r.payload.size < SourceBytes(r.source)) {
    return Invalid("nameless copy: payload buffer of %u bytes, the source descriptor needs %u",
                   r.payload.size, SourceBytes(r.source));
  }
  return absl::OkStatus();
}

absl::Status Validate(const GetCopyResultRequest& r, const DomainFormat&) {
  SEF_RETURN_IF_ERROR(internal::CheckDomain(r.destination, "get copy result"));
  SEF_RETURN_IF_ERROR(internal::CheckPairId(r.nlcid, "get copy result: NLCID"));
  constexpr uint32_t kHeader = sizeof(wire::AcrHeader), kEntry = sizeof(wire::AddressChange);
  if (r.acr.data == nullptr || r.acr.size < kHeader + kEntry ||
      (r.acr.size - kHeader) % kEntry != 0) {
    return Invalid(
        "get copy result: ACR buffer of %u bytes is not a %u-byte header plus "
        "whole %u-byte entries (at least one)",
        r.acr.size, kHeader, kEntry);
  }
  return absl::OkStatus();
}

void WriteCopySource(const NamelessCopyRequest& r) {
  uint8_t* out = r.payload.data;
  wire::UserAddressRange uar{};
  if (r.filter.has_value()) uar = {r.filter->start.raw(), r.filter->length};
  std::memcpy(out, &uar, sizeof(uar));
  out += sizeof(uar);
  if (const auto* b = std::get_if<CopyBitmap>(&r.source)) {
    const uint64_t start = b->start.raw();
    std::memcpy(out, &start, sizeof(start));
    std::memcpy(out + sizeof(start), b->words.data(), b->words.size() * 4);
  } else {
    for (FlashAddress a : std::get<CopyList>(r.source).addresses) {
      const uint64_t raw = a.raw();
      std::memcpy(out, &raw, sizeof(raw));
      out += sizeof(raw);
    }
  }
}

}  // namespace

uint64_t IoVecs::total_bytes() const {
  uint64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) total += iov[i].iov_len;
  return total;
}

// ---- encoders -------------------------------------------------------------------------------

absl::StatusOr<Command> Encode(const SuperBlockManagementRequest& r, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(Validate(r, f));
  Command c = IoCommand(IoOpcode::kSuperBlockManagement, r.domain.value());
  c.sqe.cdw10 = r.sb.value();
  // NUMD here is a plain dword count (not 0-based), as the SDK encodes it.
  c.sqe.cdw11 = Put(r.buffer.size / 4, 15, 0) | Put(static_cast<uint8_t>(r.op), 19, 16);
  c.sqe.cdw15 = Put(r.erase_weight, 31, 16);
  internal::SetData(c, r.buffer.data, r.buffer.size);
  return c;
}

absl::StatusOr<Command> Encode(const FlashAddressRequest& r, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(Validate(r, f));
  Command c = IoCommand(IoOpcode::kFlashAddressRequest, r.domain.value());
  c.sqe.cdw13 = r.nlwid;
  if (const auto* sb = std::get_if<SuperBlockId>(&r.target)) {
    const uint64_t field = SuperBlockField(*sb, f.address);
    c.sqe.cdw12 = Put(1, kSbiBit, kSbiBit);
    c.sqe.cdw14 = internal::Lo32(field);
    c.sqe.cdw15 = Put(field >> 32, 15, 0);
  } else {
    c.sqe.cdw15 = Put(std::get<PlacementId>(r.target).value(), 15, 0);
  }
  c.sqe.cdw15 |= Put(r.erase_weight, 31, 16);
  c.sqe.timeout_ms = kFarTimeoutMs;
  internal::SetData(c, r.arr.data, r.arr.size);
  return c;
}

absl::StatusOr<Command> Encode(const NamelessWriteRequest& r, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(Validate(r, f));
  Command c = IoCommand(IoOpcode::kNamelessWrite, r.domain.value());
  c.sqe.cdw10 = internal::Lo32(r.start.raw());
  c.sqe.cdw11 = internal::Hi32(r.start.raw());
  c.sqe.cdw12 = Put(r.limited_retry, 31, 31) | Put(r.fua, 30, 30) | Put(r.adus.value() - 1, 15, 0);
  c.sqe.cdw13 = r.nlwid;
  if (const auto* sb = std::get_if<SuperBlockId>(&r.target)) {
    const uint64_t field = SuperBlockField(*sb, f.address);
    c.sqe.cdw12 |= Put(1, kSbiBit, kSbiBit);
    c.sqe.cdw14 = internal::Lo32(field);
    c.sqe.cdw15 = Put(field >> 32, 15, 0);
  } else {
    const auto& by = std::get<ByPlacement>(r.target);
    c.sqe.cdw14 = Put(0x7FFFFFFF, 30, 0) | Put(by.pslc, 31, 31);
    c.sqe.cdw15 = Put(by.placement.value(), 15, 0);
  }
  c.sqe.cdw15 |= Put(r.program_weight, 31, 16);
  c.sqe.timeout_ms = kNlwTimeoutMs;
  internal::SetVectoredData(c, r.data);
  internal::SetMetadata(c, r.metadata.data, r.metadata.size);
  return c;
}

absl::StatusOr<Command> Encode(const ReadRequest& r, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(Validate(r, f));
  Command c = IoCommand(IoOpcode::kRead, r.address.domain().value());
  c.sqe.cdw10 = internal::Lo32(r.verify.raw());
  c.sqe.cdw11 = internal::Hi32(r.verify.raw());
  c.sqe.cdw12 = Put(r.adus.value() - 1, 15, 0);
  c.sqe.cdw13 = r.fifo.value();
  c.sqe.cdw14 = internal::Lo32(r.address.low48());
  c.sqe.cdw15 = Put(r.address.low48() >> 32, 15, 0) | Put(r.read_weight, 31, 16);
  internal::SetVectoredData(c, r.data);
  internal::SetMetadata(c, r.metadata.data, r.metadata.size);
  return c;
}

absl::StatusOr<Command> Encode(const NamelessCopyRequest& r, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(Validate(r, f));
  WriteCopySource(r);
  Command c = IoCommand(IoOpcode::kNamelessCopy, r.destination.value());
  const bool list = std::holds_alternative<CopyList>(r.source);
  c.sqe.cdw10 = Put(SourceElements(r.source) - 1, 15, 0) | Put(list, 16, 16) |
                Put(r.filter.has_value() && r.filter->exclude, 17, 17);
  c.sqe.cdw13 = r.nlcid;
  const uint64_t field = SuperBlockField(r.destination_sb, f.address);
  c.sqe.cdw14 = internal::Lo32(field);
  c.sqe.cdw15 = Put(field >> 32, 15, 0) | Put(r.program_weight, 31, 16);
  c.sqe.timeout_ms = kNlcTimeoutMs;
  internal::SetData(c, r.payload.data, SourceBytes(r.source));
  return c;
}

absl::StatusOr<Command> Encode(const GetCopyResultRequest& r, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(Validate(r, f));
  Command c = IoCommand(IoOpcode::kGetCopyResult, r.destination.value());
  const uint32_t entries = (r.acr.size - sizeof(wire::AcrHeader)) / sizeof(wire::AddressChange);
  c.sqe.cdw10 = entries - 1;
  c.sqe.cdw12 = Put(r.fua, 30, 30);
  c.sqe.cdw13 = r.nlcid;
  internal::SetData(c, r.acr.data, r.acr.size);
  return c;
}

// ---- decoders -------------------------------------------------------------------------------

namespace internal {
namespace {

template <typename Request>
absl::StatusOr<Request> Checked(Request r, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(Validate(r, f));
  return r;
}

QosDomainId DomainOf(const Command& c) { return QosDomainId(static_cast<uint16_t>(c.sqe.nsid)); }

absl::Status CheckIoNsid(const Command& c) {
  if (c.sqe.nsid == 0 || c.sqe.nsid > 0xFFFF) {
    return Invalid("I/O opcode 0x%02x: NSID %u is not a QoS domain id", c.sqe.opcode, c.sqe.nsid);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SuperBlockManagementRequest> DecodeSuperBlockManagement(const Command& c,
                                                                       const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(CheckIoNsid(c));
  const uint32_t numd = Get(c.sqe.cdw11, 15, 0);
  if (uint64_t{numd} * 4 != c.sqe.data_len) {
    return Invalid("super block management: NUMD %u does not match the %u-byte buffer", numd,
                   c.sqe.data_len);
  }
  return Checked(
      SuperBlockManagementRequest{DomainOf(c), static_cast<SbOperation>(Get(c.sqe.cdw11, 19, 16)),
                                  SuperBlockId(c.sqe.cdw10),
                                  static_cast<uint16_t>(Get(c.sqe.cdw15, 31, 16)), DataOf(c)},
      f);
}

absl::StatusOr<FlashAddressRequest> DecodeFlashAddressRequest(const Command& c,
                                                              const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(CheckIoNsid(c));
  FlashAddressRequest r;
  r.domain = DomainOf(c);
  r.nlwid = c.sqe.cdw13;
  r.erase_weight = static_cast<uint16_t>(Get(c.sqe.cdw15, 31, 16));
  r.arr = DataOf(c);
  if (Get(c.sqe.cdw12, kSbiBit, kSbiBit)) {
    SEF_ASSIGN_OR_RETURN(r.target, SuperBlockOfField(Field48(c), f.address, "flash address request",
                                                     OffsetForm::kAllOnesOrZero));
  } else {
    r.target = PlacementId(static_cast<uint16_t>(Get(c.sqe.cdw15, 15, 0)));
  }
  return Checked(std::move(r), f);
}

absl::StatusOr<NamelessWriteRequest> DecodeNamelessWrite(const Command& c, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(CheckIoNsid(c));
  if (!c.vectored) return Invalid("nameless write: data must be an iovec list (_IO_VEC)");
  NamelessWriteRequest r;
  r.domain = DomainOf(c);
  r.start = UserAddress::FromRaw(Join64(c.sqe.cdw10, c.sqe.cdw11));
  r.adus = AduCount(Get(c.sqe.cdw12, 15, 0) + 1);
  r.fua = Get(c.sqe.cdw12, 30, 30);
  r.limited_retry = Get(c.sqe.cdw12, 31, 31);
  r.nlwid = c.sqe.cdw13;
  r.program_weight = static_cast<uint16_t>(Get(c.sqe.cdw15, 31, 16));
  r.data = VecsOf(c);
  r.metadata = {reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(c.sqe.metadata)),
                c.sqe.metadata_len};
  if (Get(c.sqe.cdw12, kSbiBit, kSbiBit)) {
    SEF_ASSIGN_OR_RETURN(r.target, SuperBlockOfField(Field48(c), f.address, "nameless write"));
  } else {
    if (Get(c.sqe.cdw14, 30, 0) != 0x7FFFFFFF) {
      return Invalid("nameless write: ADU offset 0x%x given; this device appends (all ones)",
                     Get(c.sqe.cdw14, 30, 0));
    }
    r.target = ByPlacement{PlacementId(static_cast<uint16_t>(Get(c.sqe.cdw15, 15, 0))),
                           Get(c.sqe.cdw14, 31, 31) != 0};
  }
  return Checked(std::move(r), f);
}

absl::StatusOr<ReadRequest> DecodeRead(const Command& c, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(CheckIoNsid(c));
  if (!c.vectored) return Invalid("read: data must be an iovec list (_IO_VEC)");
  ReadRequest r;
  r.address = FlashAddress::FromRaw((uint64_t{c.sqe.nsid} << 48) | Field48(c));
  r.adus = AduCount(Get(c.sqe.cdw12, 15, 0) + 1);
  r.verify = UserAddress::FromRaw(Join64(c.sqe.cdw10, c.sqe.cdw11));
  r.fifo = ReadFifoId(c.sqe.cdw13);
  r.read_weight = static_cast<uint16_t>(Get(c.sqe.cdw15, 31, 16));
  r.data = VecsOf(c);
  r.metadata = {reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(c.sqe.metadata)),
                c.sqe.metadata_len};
  return Checked(std::move(r), f);
}

absl::StatusOr<NamelessCopyRequest> DecodeNamelessCopy(const Command& c, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(CheckIoNsid(c));
  NamelessCopyRequest r;
  r.destination = DomainOf(c);
  r.nlcid = c.sqe.cdw13;
  r.program_weight = static_cast<uint16_t>(Get(c.sqe.cdw15, 31, 16));
  r.payload = DataOf(c);
  SEF_ASSIGN_OR_RETURN(r.destination_sb, SuperBlockOfField(Field48(c), f.address, "nameless copy"));
  const uint32_t n = Get(c.sqe.cdw10, 15, 0) + 1;
  const bool list = Get(c.sqe.cdw10, 16, 16);
  const bool exclude = Get(c.sqe.cdw10, 17, 17);
  const uint32_t expected =
      list ? sizeof(wire::UserAddressRange) + n * 8 : wire::kNlcBitmapHeaderBytes + n * 4;
  if (r.payload.data == nullptr || r.payload.size != expected) {
    return Invalid("nameless copy: source descriptor of %u bytes, %u %s need %u", r.payload.size, n,
                   list ? "addresses" : "bitmap words", expected);
  }
  const uint8_t* in = r.payload.data;
  wire::UserAddressRange uar;
  std::memcpy(&uar, in, sizeof(uar));
  in += sizeof(uar);
  if (uar.length != 0) {
    r.filter = UserAddressFilter{UserAddress::FromRaw(uar.start), uar.length, exclude};
  } else if (exclude || uar.start != 0) {
    return Invalid("nameless copy: empty user address range with a filter set");
  }
  if (list) {
    CopyList l;
    l.addresses.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t raw;
      std::memcpy(&raw, in + i * 8, 8);
      l.addresses[i] = FlashAddress::FromRaw(raw);
    }
    r.source = std::move(l);
  } else {
    CopyBitmap b;
    uint64_t start;
    std::memcpy(&start, in, 8);
    b.start = FlashAddress::FromRaw(start);
    b.words.resize(n);
    std::memcpy(b.words.data(), in + 8, n * 4);
    r.source = std::move(b);
  }
  return Checked(std::move(r), f);
}

absl::StatusOr<GetCopyResultRequest> DecodeGetCopyResult(const Command& c, const DomainFormat& f) {
  SEF_RETURN_IF_ERROR(CheckIoNsid(c));
  GetCopyResultRequest r{DomainOf(c), c.sqe.cdw13, Get(c.sqe.cdw12, 30, 30) != 0, DataOf(c)};
  const uint64_t entries = uint64_t{c.sqe.cdw10} + 1;
  if (sizeof(wire::AcrHeader) + entries * sizeof(wire::AddressChange) != r.acr.size) {
    return Invalid("get copy result: %u ACR entries do not fill the %u-byte buffer", entries,
                   r.acr.size);
  }
  return Checked(std::move(r), f);
}

}  // namespace internal
}  // namespace sef::cmd
