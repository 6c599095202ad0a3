// The SEF command set codec: one pure encoder and one decoder per command.
//
//   absl::StatusOr<Command> c = cmd::Encode(cmd::ReadRequest{...}, format);
//   absl::StatusOr<cmd::IoRequest> r = cmd::DecodeIo(*c, format);   // the device side
//
// Encoders validate a request before they build anything and answer InvalidArgument with a
// message naming the field and the bad value. They touch no state: the only memory they
// write is a request's own `payload` buffer. Decoders are what the device model runs on every
// command it receives; they apply the same validation, so decode(encode(x)) == x for every
// valid x, and a malformed command is an InvalidArgument (the model answers Invalid Field)
// or, for an opcode, SEL or operation this command set does not define, Unimplemented (the
// model answers Invalid Opcode / Invalid Field as the command's place in NVMe requires).
//
// Thread-safety: all functions are pure and may run concurrently.
#ifndef SEF_HAL_CMD_CODEC_H_
#define SEF_HAL_CMD_CODEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sef/hal/cmd/command.h"
#include "sef/hal/cmd/requests.h"
#include "sef/hal/cmd/types.h"

namespace sef::cmd {

// What an I/O encoder (or decoder) must know about the QoS domain a command targets.
struct DomainFormat {
  AddressFormat address;           // the domain's VD: SB id and ADU offset widths
  uint32_t num_placement_ids = 1;  // Identify 05h nplid + 1

  friend bool operator==(const DomainFormat&, const DomainFormat&) = default;
};

// Timeouts the SDK uses; 0 leaves the kernel's default.
inline constexpr uint32_t kFarTimeoutMs = 90'000;
inline constexpr uint32_t kNlwTimeoutMs = 301'000;  // (1 + 300) s: the SDK's no-EOP case
inline constexpr uint32_t kNlcTimeoutMs = 30 * 60'000;

// ---- Admin encoders -----------------------------------------------------------------------
absl::StatusOr<Command> Encode(const IdentifyControllerRequest& r);
absl::StatusOr<Command> Encode(const IdentifySefControllerRequest& r);
absl::StatusOr<Command> Encode(const IdentifySefNamespaceRequest& r);
absl::StatusOr<Command> Encode(const IdentifyVirtualDeviceListRequest& r);
absl::StatusOr<Command> Encode(const IdentifyCommandSetVectorRequest& r);
absl::StatusOr<Command> Encode(const VdInfoLogRequest& r);
absl::StatusOr<Command> Encode(const QosDomainListLogRequest& r);
absl::StatusOr<Command> Encode(const SuperBlockListLogRequest& r);
absl::StatusOr<Command> Encode(const SuperBlockInfoLogRequest& r);
absl::StatusOr<Command> Encode(const UserAddressListLogRequest& r);
absl::StatusOr<Command> Encode(const AddressChangeOrderLogRequest& r);
absl::StatusOr<Command> Encode(const ReadFifoLogRequest& r);
absl::StatusOr<Command> Encode(const SetDiesPerSuperBlockRequest& r);
absl::StatusOr<Command> Encode(const SetReadFifoRequest& r);
absl::StatusOr<Command> Encode(const DetachReadFifoRequest& r);
absl::StatusOr<Command> Encode(const SetPslcSuperBlocksRequest& r);
absl::StatusOr<Command> Encode(const SetVdAenControlRequest& r);
absl::StatusOr<Command> Encode(const SetSuspendConfigRequest& r);
absl::StatusOr<Command> Encode(const ResetSchedulerRequest& r);
absl::StatusOr<Command> Encode(const GetReadFifoListRequest& r);
absl::StatusOr<Command> Encode(const SetRootPointerRequest& r);
absl::StatusOr<Command> Encode(const GetRootPointerRequest& r);
absl::StatusOr<Command> Encode(const SetQosDomainCapacityRequest& r);
absl::StatusOr<Command> Encode(const SetWeightsRequest& r);
absl::StatusOr<Command> Encode(const SetReadDeadlineRequest& r);
absl::StatusOr<Command> Encode(const SetMaxOpenSuperBlocksRequest& r);
absl::StatusOr<Command> Encode(const SetDefaultReadFifoRequest& r);
absl::StatusOr<Command> Encode(const SetCapacityConfigRequest& r);
absl::StatusOr<Command> Encode(const GetCapacityConfigRequest& r);
absl::StatusOr<Command> Encode(const SelectCapacityConfigRequest& r);
absl::StatusOr<Command> Encode(const CreateQosDomainRequest& r);
absl::StatusOr<Command> Encode(const DeleteQosDomainRequest& r);
absl::StatusOr<Command> Encode(const AttachQosDomainRequest& r);
absl::StatusOr<Command> Encode(const AdminRequest& r);

// ---- I/O encoders -------------------------------------------------------------------------
absl::StatusOr<Command> Encode(const SuperBlockManagementRequest& r, const DomainFormat& f);
absl::StatusOr<Command> Encode(const FlashAddressRequest& r, const DomainFormat& f);
absl::StatusOr<Command> Encode(const NamelessWriteRequest& r, const DomainFormat& f);
absl::StatusOr<Command> Encode(const ReadRequest& r, const DomainFormat& f);
absl::StatusOr<Command> Encode(const NamelessCopyRequest& r, const DomainFormat& f);
absl::StatusOr<Command> Encode(const GetCopyResultRequest& r, const DomainFormat& f);
absl::StatusOr<Command> Encode(const IoRequest& r, const DomainFormat& f);

// ---- Decoders (the device side) -----------------------------------------------------------
// REQUIRES: c.queue matches the function; buffers referenced by c are readable.
absl::StatusOr<AdminRequest> DecodeAdmin(const Command& c);
// `f` is the format of the domain named by c.nsid().
absl::StatusOr<IoRequest> DecodeIo(const Command& c, const DomainFormat& f);

// ---- Transfer lengths (the device side) ---------------------------------------------------
// What a command moves, as a device must compute it from the command's own fields (an NVMe
// submission entry carries PRPs or SGLs, not a length): the buffers an emulated controller
// copies guest memory into and out of. The encoders above set data_len (the iovec total for
// vectored commands) and metadata_len to these values (the golden test checks it case by
// case), so this is the one definition.
struct Transfer {
  uint64_t data_bytes = 0;
  // When the command carries metadata at all (MPTR non-zero): Nameless Write and Read.
  uint64_t metadata_bytes = 0;
  DataDirection direction = DataDirection::kNone;
  // False when no field gives the length and data_bytes is the 4096 bytes hosts send
  // (Get Features 0xD2; Get Features 0xD0 SEL 1 in its older form, with no dword count).
  bool from_fields = true;

  friend bool operator==(const Transfer&, const Transfer&) = default;
};
// `sqe` is an admin command when `queue` is kAdmin. Commands that move no data, and opcodes
// this command set does not define, give zero bytes.
Transfer TransferOf(const nvme_passthru_cmd64& sqe, QueueType queue);

// The capacity configuration descriptor of Set/Get Features 0xD2, as the device returns it.
std::vector<uint8_t> SerializeCapacityConfig(const CapacityConfig& config);

// A short human name of a command, e.g. "Get Log Page 0xD2", for messages and traces.
std::string DescribeCommand(const Command& c);

}  // namespace sef::cmd

#endif  // SEF_HAL_CMD_CODEC_H_
