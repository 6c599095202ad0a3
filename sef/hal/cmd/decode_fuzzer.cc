// Fuzz target: the device-side decoders, DecodeAdmin and DecodeIo, on any submission entry
// with any buffers (lengths, iovec lists, NULL pointers) and any domain format.
//
// Input: u8 sb_bits, u8 adu_offset_bits, u32 num_placement_ids (the DomainFormat DecodeIo
// gets), then one command as sef/hal/cmd/testing/fuzz_command.h encodes it.
//
// Checked beyond "no crash, no sanitizer report":
// - a rejection is InvalidArgument or Unimplemented with a message;
// - an accepted command re-encodes (the encoders accept what the decoders accept), and the
//   re-encoded command decodes to the same request: decode(encode(decode(c))) == decode(c).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "sef/base/testing/fuzz.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/testing/fuzz_command.h"
#include "sef/hal/cmd/testing/transferred_part.h"

namespace sef::cmd {
namespace {

void CheckRejection(const absl::Status& s, const Command& c) {
  SEF_FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument ||
                     s.code() == absl::StatusCode::kUnimplemented,
                 "%s: unexpected status %s", DescribeCommand(c).c_str(), s.ToString().c_str());
  SEF_FUZZ_CHECK(!s.message().empty(), "%s: rejected without a message",
                 DescribeCommand(c).c_str());
}

void FuzzAdmin(const Command& c) {
  absl::StatusOr<AdminRequest> r = DecodeAdmin(c);
  if (!r.ok()) return CheckRejection(r.status(), c);
  absl::StatusOr<Command> again = Encode(*r);
  SEF_FUZZ_CHECK(again.ok(), "%s decodes but does not re-encode: %s", DescribeCommand(c).c_str(),
                 again.status().ToString().c_str());
  absl::StatusOr<AdminRequest> r2 = DecodeAdmin(*again);
  SEF_FUZZ_CHECK(r2.ok(), "%s: the re-encoded command does not decode: %s",
                 DescribeCommand(c).c_str(), r2.status().ToString().c_str());
  SEF_FUZZ_CHECK(*r2 == TransferredPart(*r, *again), "%s: decode(encode(r)) != r",
                 DescribeCommand(c).c_str());
}

void FuzzIo(const Command& c, const DomainFormat& f) {
  absl::StatusOr<IoRequest> r = DecodeIo(c, f);
  if (!r.ok()) return CheckRejection(r.status(), c);
  absl::StatusOr<Command> again = Encode(*r, f);
  SEF_FUZZ_CHECK(again.ok(), "%s decodes but does not re-encode: %s", DescribeCommand(c).c_str(),
                 again.status().ToString().c_str());
  absl::StatusOr<IoRequest> r2 = DecodeIo(*again, f);
  SEF_FUZZ_CHECK(r2.ok(), "%s: the re-encoded command does not decode: %s",
                 DescribeCommand(c).c_str(), r2.status().ToString().c_str());
  SEF_FUZZ_CHECK(*r2 == TransferredPart(*r, *again), "%s: decode(encode(r)) != r",
                 DescribeCommand(c).c_str());
}

}  // namespace
}  // namespace sef::cmd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sef::testing::FuzzTape tape(data, size);
  sef::cmd::DomainFormat format;
  format.address.sb_bits = tape.U8();
  format.address.adu_offset_bits = tape.U8();
  format.num_placement_ids = tape.U32();
  std::unique_ptr<sef::cmd::testing::FuzzCommand> fc = sef::cmd::testing::FuzzCommand::Read(
      tape, {.max_data_bytes = 1 << 20, .allow_null_buffers = true});
  if (fc == nullptr) return 0;
  const sef::Command& c = fc->command();
  SEF_FUZZ_CHECK(!sef::cmd::DescribeCommand(c).empty(), "no description");
  if (c.queue == sef::QueueType::kAdmin) {
    sef::cmd::FuzzAdmin(c);
  } else {
    sef::cmd::FuzzIo(c, format);
  }
  return 0;
}
