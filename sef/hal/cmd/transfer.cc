// TransferOf (codec.h): the bytes each command moves, from its fields.
//
// Why here: the encoders choose these lengths and the decoders check them; an emulated
// controller (the QEMU bridge) must compute them from a guest's raw command before it can
// copy any data. Computing them anywhere else would be a second copy of the command set.
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/internal/fields.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {

using internal::Get;

namespace {

constexpr uint64_t kStructureBytes = 4096;  // Identify data, NS structures, controller lists

uint64_t AdminDataBytes(const nvme_passthru_cmd64& c, bool& from_fields) {
  switch (static_cast<wire::AdminOpcode>(c.opcode)) {
    case wire::AdminOpcode::kIdentify:
    case wire::AdminOpcode::kNamespaceAttachment:
      return kStructureBytes;
    case wire::AdminOpcode::kGetLogPage:  // NUMDU:NUMDL, zero-based dwords
      return ((uint64_t{Get(c.cdw11, 15, 0)} << 16 | Get(c.cdw10, 31, 16)) + 1) * 4;
    case wire::AdminOpcode::kSetFeatures:
      if (Get(c.cdw10, 7, 0) == static_cast<uint8_t>(wire::FeatureId::kCapacityConfiguration)) {
        // CDW11: endurance groups in 31:16, media units (dies) in 15:0.
        return sizeof(wire::CapacityConfigHeader) +
               uint64_t{Get(c.cdw11, 31, 16)} * sizeof(wire::EnduranceGroupConfig) +
               uint64_t{Get(c.cdw11, 15, 0)} * sizeof(wire::MediaUnitConfig);
      }
      return 0;
    case wire::AdminOpcode::kGetFeatures:
      if (Get(c.cdw10, 7, 0) == static_cast<uint8_t>(wire::FeatureId::kVirtualDeviceManagement) &&
          Get(c.cdw11, 3, 0) == static_cast<uint8_t>(wire::VdSelect::kAttachReadFifo)) {
        // Read FIFO list: CDW11[31:16] = dwords - 1; 0 is the older form with no count.
        if (Get(c.cdw11, 31, 16) != 0) return (uint64_t{Get(c.cdw11, 31, 16)} + 1) * 4;
        from_fields = false;
        return kStructureBytes;
      }
      if (Get(c.cdw10, 7, 0) == static_cast<uint8_t>(wire::FeatureId::kCapacityConfiguration)) {
        from_fields = false;
        return kStructureBytes;
      }
      return 0;
    case wire::AdminOpcode::kNamespaceManagement:  // SEL 0 (create) sends the NS structure
      return Get(c.cdw10, 3, 0) == 0 ? kStructureBytes : 0;
    default:
      return 0;
  }
}

}  // namespace

Transfer TransferOf(const nvme_passthru_cmd64& c, QueueType queue) {
  Transfer t;
  t.direction = DirectionOfOpcode(c.opcode);
  if (queue == QueueType::kAdmin) {
    t.data_bytes = AdminDataBytes(c, t.from_fields);
    return t;
  }
  const uint64_t adus = uint64_t{Get(c.cdw12, 15, 0)} + 1;  // NLW and Read: zero-based NADU
  switch (static_cast<wire::IoOpcode>(c.opcode)) {
    case wire::IoOpcode::kSuperBlockManagement:  // NUMD in CDW11[15:0], one-based
      t.data_bytes = uint64_t{Get(c.cdw11, 15, 0)} * 4;
      break;
    case wire::IoOpcode::kFlashAddressRequest:
      t.data_bytes = sizeof(wire::AddressRequestResponse);
      break;
    case wire::IoOpcode::kNamelessWrite:
    case wire::IoOpcode::kRead:
      t.data_bytes = adus * wire::kAduDataBytes;
      t.metadata_bytes = adus * wire::kAduMetaBytes;
      break;
    case wire::IoOpcode::kNamelessCopy: {
      // CDW10: elements - 1 in 15:0; bit 16 = a flash address list (else a bitmap).
      const uint64_t n = uint64_t{Get(c.cdw10, 15, 0)} + 1;
      t.data_bytes = Get(c.cdw10, 16, 16) ? sizeof(wire::UserAddressRange) + n * 8
                                          : wire::kNlcBitmapHeaderBytes + n * 4;
      break;
    }
    case wire::IoOpcode::kGetCopyResult:  // CDW10 = address change entries - 1
      t.data_bytes =
          sizeof(wire::AcrHeader) + (uint64_t{c.cdw10} + 1) * sizeof(wire::AddressChange);
      break;
    default:  // NVM Flush and anything undefined: no data
      break;
  }
  return t;
}

}  // namespace sef::cmd
