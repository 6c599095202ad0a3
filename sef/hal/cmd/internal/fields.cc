#include "sef/hal/cmd/internal/fields.h"

#include "sef/hal/cmd/wire.h"

namespace sef::cmd::internal {

Command NewCommand(QueueType queue, uint8_t opcode, uint32_t nsid) {
  Command c;
  c.queue = queue;
  c.sqe.opcode = opcode;
  c.sqe.nsid = nsid;
  c.direction = DirectionOfOpcode(opcode);
  return c;
}

void SetData(Command& c, const void* data, uint32_t size) {
  c.sqe.addr = reinterpret_cast<uintptr_t>(data);
  c.sqe.data_len = size;
  c.vectored = false;
}

void SetMetadata(Command& c, const void* data, uint32_t size) {
  c.sqe.metadata = reinterpret_cast<uintptr_t>(data);
  c.sqe.metadata_len = size;
}

void SetVectoredData(Command& c, const IoVecs& v) {
  c.sqe.addr = reinterpret_cast<uintptr_t>(v.iov);
  c.sqe.vec_cnt = v.count;
  c.vectored = true;
}

MutableBytes DataOf(const Command& c) {
  return {reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(c.sqe.addr)), c.sqe.data_len};
}

IoVecs VecsOf(const Command& c) {
  return {reinterpret_cast<const iovec*>(static_cast<uintptr_t>(c.sqe.addr)), c.sqe.vec_cnt};
}

absl::Status CheckDataIn(const MutableBytes& b, std::string_view what, uint32_t min) {
  if (b.data == nullptr || b.size == 0) return Invalid("%s: no buffer given", what);
  if (b.size % 4 != 0) {
    return Invalid("%s: buffer length %u is not a whole number of dwords", what, b.size);
  }
  if (b.size < min) return Invalid("%s: buffer length %u is below %u bytes", what, b.size, min);
  return absl::OkStatus();
}

absl::Status CheckExactly(const MutableBytes& b, std::string_view what, uint32_t size) {
  if (b.data == nullptr) return Invalid("%s: no buffer given", what);
  if (b.size != size) {
    return Invalid("%s: buffer length %u, the structure is %u bytes", what, b.size, size);
  }
  return absl::OkStatus();
}

absl::Status CheckDomain(QosDomainId d, std::string_view what) {
  if (d.value() == 0) return Invalid("%s: QoS domain id 0 is not a namespace id", what);
  return absl::OkStatus();
}

absl::Status CheckVd(VirtualDeviceId vd, std::string_view what) {
  if (vd.value() == 0) return Invalid("%s: virtual device id 0 is not an endurance group", what);
  return absl::OkStatus();
}

absl::Status CheckRootPointerIndex(uint32_t index) {
  if (index >= wire::kNumRootPointers) {
    return Invalid("root pointer index %u is above %u", index, wire::kNumRootPointers - 1);
  }
  return absl::OkStatus();
}

absl::Status CheckSuperBlock(SuperBlockId sb, const AddressFormat& f, std::string_view what) {
  if (absl::Status s = f.Validate(); !s.ok()) return s;
  if (sb.value() > f.max_super_block_id()) {
    return Invalid("%s: super block id %u is wider than the virtual device's %d-bit field", what,
                   sb.value(), f.sb_bits);
  }
  return absl::OkStatus();
}

absl::Status CheckPairId(uint32_t id, std::string_view what) {
  if (id == 0) return Invalid("%s 0 is reserved: pair ids are non-zero", what);
  return absl::OkStatus();
}

}  // namespace sef::cmd::internal
