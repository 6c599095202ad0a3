// Writes the seed corpus of decode_fuzzer (testdata/fuzz/decode_fuzzer/):
// - one input per golden vector (testdata/golden/*.json): the expected submission entry with
//   buffers of the expected lengths;
// - the commands that carry a data-out payload (capacity configuration, QoS domain create and
//   attach, nameless copy by list and by bitmap), encoded from the golden cases' requests, so
//   that their payloads are well formed.
//
//   bazel run //sef/hal/cmd:decode_fuzzer_seeds        # rewrites the directory's seeds
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "sef/base/testing/fuzz.h"
#include "sef/base/testing/fuzz_seeds.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/testing/fuzz_command.h"

namespace sef::cmd {
namespace {

using nlohmann::json;
using sef::testing::FuzzTapeWriter;

// The domain format of testdata/golden/io.json.
constexpr DomainFormat kGoldenFormat{{24, 24}, 16};

uint64_t Num(const json& j) {
  if (j.is_string()) return std::stoull(j.get<std::string>(), nullptr, 0);
  if (j.is_boolean()) return j.get<bool>();
  return j.get<uint64_t>();
}

class Seeds {
 public:
  explicit Seeds(std::filesystem::path dir) : dir_(std::move(dir)) {}

  void Add(const std::string& name, const Command& c) {
    FuzzTapeWriter w;
    w.U8(kGoldenFormat.address.sb_bits).U8(kGoldenFormat.address.adu_offset_bits);
    w.U32(kGoldenFormat.num_placement_ids);
    testing::WriteFuzzCommand(w, c);
    sef::testing::WriteSeed(dir_, name, w.bytes());
    ++count_;
  }
  int count() const { return count_; }

  // Zeroed memory that lives as long as the generator.
  uint8_t* Buffer(uint64_t size) {
    return buffers_.emplace_back(std::make_unique<uint8_t[]>(size == 0 ? 1 : size)).get();
  }
  std::vector<iovec>& Iovecs() { return iovecs_.emplace_back(); }

 private:
  std::filesystem::path dir_;
  int count_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<std::vector<iovec>> iovecs_;
};

// The golden case's expected command, with zeroed buffers of the expected lengths.
Command GoldenCommand(const json& c, Seeds& seeds) {
  const json& e = c.at("expect");
  const json& r = c.at("request");
  Command cmd;
  cmd.queue = e.at("queue").get<std::string>() == "io" ? QueueType::kIo : QueueType::kAdmin;
  cmd.sqe.opcode = static_cast<uint8_t>(Num(e.at("opcode")));
  cmd.direction = DirectionOfOpcode(cmd.sqe.opcode);
  cmd.sqe.nsid = static_cast<uint32_t>(Num(e.at("nsid")));
  uint32_t* cdw[] = {&cmd.sqe.cdw10, &cmd.sqe.cdw11, &cmd.sqe.cdw12,
                     &cmd.sqe.cdw13, &cmd.sqe.cdw14, &cmd.sqe.cdw15};
  for (int i = 0; i < 6; ++i)
    *cdw[i] = static_cast<uint32_t>(Num(e.at("cdw1" + std::to_string(i))));
  cmd.sqe.timeout_ms = static_cast<uint32_t>(Num(e.at("timeout_ms")));
  cmd.vectored = e.at("vectored").get<bool>();
  if (cmd.vectored) {
    std::vector<iovec>& iov = seeds.Iovecs();
    if (r.contains("data")) {
      for (const json& len : r.at("data")) iov.push_back({seeds.Buffer(Num(len)), Num(len)});
    }
    cmd.sqe.addr = reinterpret_cast<uintptr_t>(iov.data());
    cmd.sqe.vec_cnt = static_cast<uint32_t>(iov.size());
  } else {
    cmd.sqe.data_len = static_cast<uint32_t>(Num(e.at("data_len")));
    if (cmd.sqe.data_len != 0) {
      cmd.sqe.addr = reinterpret_cast<uintptr_t>(seeds.Buffer(cmd.sqe.data_len));
    }
  }
  cmd.sqe.metadata_len = static_cast<uint32_t>(Num(e.at("metadata_len")));
  if (cmd.sqe.metadata_len != 0) {
    cmd.sqe.metadata = reinterpret_cast<uintptr_t>(seeds.Buffer(cmd.sqe.metadata_len));
  }
  return cmd;
}

void AddEncoded(Seeds& seeds, const std::string& name, absl::StatusOr<Command> c) {
  if (!c.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), c.status().ToString().c_str());
    std::exit(1);
  }
  seeds.Add("encoded-" + name, *c);
}

void AddPayloadCommands(Seeds& seeds) {
  MutableBytes payload{seeds.Buffer(4096), 4096};
  CapacityConfig config{2,
                        {{VirtualDeviceId(1), {DieId(0), DieId(1), DieId(2), DieId(3)}},
                         {VirtualDeviceId(2), {DieId(4), DieId(5)}}}};
  AddEncoded(seeds, "set_capacity_config", Encode(SetCapacityConfigRequest{config, payload}));

  QosDomainSpec spec;
  spec.vd = VirtualDeviceId(2);
  spec.capacity = PlanePageCount(4096);
  spec.quota = PlanePageCount(8192);
  spec.pslc_capacity = PlanePageCount(64);
  spec.pslc_quota = PlanePageCount(128);
  spec.num_placement_ids = 16;
  spec.max_open_super_blocks = 288;
  spec.default_read_fifo = ReadFifoId(421);
  spec.deadline = ReadDeadline(2);
  AddEncoded(seeds, "create_qos_domain",
             Encode(CreateQosDomainRequest{spec, {seeds.Buffer(4096), 4096}}));
  AddEncoded(seeds, "attach_qos_domain",
             Encode(AttachQosDomainRequest{
                 QosDomainId(3), AttachAction::kAttach, 0, {seeds.Buffer(4096), 4096}}));
  AddEncoded(seeds, "detach_qos_domain",
             Encode(AttachQosDomainRequest{
                 QosDomainId(3), AttachAction::kDetach, 0, {seeds.Buffer(4096), 4096}}));

  const AddressFormat& f = kGoldenFormat.address;
  NamelessCopyRequest list;
  list.destination = QosDomainId(3);
  list.destination_sb = SuperBlockId(0x12345);
  list.source = CopyList{{*FlashAddress::Make(QosDomainId(3), SuperBlockId(7), AduOffset(0), f),
                          *FlashAddress::Make(QosDomainId(4), SuperBlockId(9), AduOffset(5), f)}};
  list.filter = UserAddressFilter{UserAddress::FromRaw(100), 50, true};
  list.nlcid = 77;
  list.payload = {seeds.Buffer(4096), 4096};
  AddEncoded(seeds, "nameless_copy_list", Encode(list, kGoldenFormat));

  NamelessCopyRequest bitmap = list;
  bitmap.source = CopyBitmap{*FlashAddress::Make(QosDomainId(3), SuperBlockId(7), AduOffset(64), f),
                             {0xF0F0F0F0, 1}};
  bitmap.filter.reset();
  bitmap.payload = {seeds.Buffer(4096), 4096};
  AddEncoded(seeds, "nameless_copy_bitmap", Encode(bitmap, kGoldenFormat));
}

}  // namespace
}  // namespace sef::cmd

int main() {
  const std::filesystem::path dir = sef::testing::SeedDirectory("decode_fuzzer");
  sef::cmd::Seeds seeds(dir);
  for (const char* file : {"testdata/golden/admin.json", "testdata/golden/io.json"}) {
    std::ifstream in(file);
    if (!in) {
      std::fprintf(stderr, "cannot read %s (run with bazel run)\n", file);
      return 1;
    }
    const nlohmann::json golden = nlohmann::json::parse(in);
    for (const nlohmann::json& c : golden.at("cases")) {
      seeds.Add("golden-" + c.at("name").get<std::string>(), sef::cmd::GoldenCommand(c, seeds));
    }
  }
  sef::cmd::AddPayloadCommands(seeds);
  std::printf("wrote %d seeds to %s\n", seeds.count(), dir.c_str());
  return 0;
}
