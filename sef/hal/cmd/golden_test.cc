// Golden vectors: testdata/golden/*.json, written by hand from the spec tables, pin every
// command's opcode, NSID, CDW10-15, lengths, timeout, queue and direction (and key bytes of
// data-out payloads). Each case is encoded and compared, and the expected command is decoded
// and compared with the request, so both directions are pinned by the same hand-made bits.
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/testing/transferred_part.h"

namespace sef::cmd {
namespace {

using nlohmann::json;

uint64_t Num(const json& j) {
  if (j.is_string()) return std::stoull(j.get<std::string>(), nullptr, 0);
  if (j.is_boolean()) return j.get<bool>();
  return j.get<uint64_t>();
}

uint64_t NumOr(const json& obj, const char* key, uint64_t fallback) {
  return obj.contains(key) ? Num(obj.at(key)) : fallback;
}

// Owns the memory a case's requests point at, so that pointers stay valid for the case.
class Arena {
 public:
  MutableBytes Bytes(uint64_t size) {
    if (size == 0) return {};
    auto& b = blocks_.emplace_back(std::make_unique<std::vector<uint8_t>>(size));
    return {b->data(), static_cast<uint32_t>(size)};
  }
  IoVecs Vecs(const json& lengths) {
    if (lengths.empty()) return {};
    auto& v = vecs_.emplace_back(std::make_unique<std::vector<iovec>>());
    for (const json& len : lengths) {
      MutableBytes b = Bytes(Num(len));
      v->push_back({b.data, b.size});
    }
    return {v->data(), static_cast<uint32_t>(v->size())};
  }

 private:
  std::vector<std::unique_ptr<std::vector<uint8_t>>> blocks_;
  std::vector<std::unique_ptr<std::vector<iovec>>> vecs_;
};

MutableBytes BufferField(const json& r, const char* key, Arena& arena) {
  return r.contains(key) ? arena.Bytes(Num(r.at(key))) : MutableBytes{};
}

QosDomainId Domain(const json& r, const char* key = "domain") {
  return QosDomainId(static_cast<uint16_t>(Num(r.at(key))));
}
VirtualDeviceId Vd(const json& r, const char* key = "vd") {
  return VirtualDeviceId(static_cast<uint16_t>(Num(r.at(key))));
}

// ---- JSON request -> typed request ---------------------------------------------------------

using AdminBuilder = std::function<AdminRequest(const json&, Arena&)>;
using IoBuilder = std::function<IoRequest(const json&, Arena&)>;

QosDomainSpec SpecOf(const json& s) {
  QosDomainSpec spec;
  spec.vd = Vd(s);
  spec.capacity = PlanePageCount(NumOr(s, "capacity", 0));
  spec.quota = PlanePageCount(NumOr(s, "quota", 0));
  spec.pslc_capacity = PlanePageCount(NumOr(s, "pslc_capacity", 0));
  spec.pslc_quota = PlanePageCount(NumOr(s, "pslc_quota", 0));
  spec.num_placement_ids = static_cast<uint16_t>(NumOr(s, "num_placement_ids", 1));
  spec.max_open_super_blocks = static_cast<uint16_t>(NumOr(s, "max_open_super_blocks", 1));
  spec.program_weight = static_cast<uint16_t>(NumOr(s, "program_weight", 0));
  spec.erase_weight = static_cast<uint16_t>(NumOr(s, "erase_weight", 0));
  spec.default_read_fifo = ReadFifoId(static_cast<uint32_t>(NumOr(s, "default_read_fifo", 0)));
  spec.deadline = static_cast<ReadDeadline>(NumOr(s, "deadline", 0));
  spec.defect = static_cast<DefectStrategy>(NumOr(s, "defect", 0));
  return spec;
}

const std::map<std::string, AdminBuilder>& AdminBuilders() {
  static const auto* builders = new std::map<std::string, AdminBuilder>{
      {"IdentifyController",
       [](const json& r, Arena& a) {
         return IdentifyControllerRequest{BufferField(r, "buffer", a)};
       }},
      {"IdentifySefController",
       [](const json& r, Arena& a) {
         return IdentifySefControllerRequest{BufferField(r, "buffer", a)};
       }},
      {"IdentifySefNamespace",
       [](const json& r, Arena& a) {
         return IdentifySefNamespaceRequest{Domain(r), BufferField(r, "buffer", a)};
       }},
      {"IdentifyVirtualDeviceList",
       [](const json& r, Arena& a) {
         return IdentifyVirtualDeviceListRequest{
             VirtualDeviceId(static_cast<uint16_t>(NumOr(r, "first", 1))),
             BufferField(r, "buffer", a)};
       }},
      {"IdentifyCommandSetVector",
       [](const json& r, Arena& a) {
         return IdentifyCommandSetVectorRequest{BufferField(r, "buffer", a)};
       }},
      {"VdInfoLog",
       [](const json& r, Arena& a) {
         return VdInfoLogRequest{Vd(r), NumOr(r, "retain_event", 0) != 0,
                                 BufferField(r, "buffer", a)};
       }},
      {"QosDomainListLog",
       [](const json& r, Arena& a) {
         return QosDomainListLogRequest{Vd(r), BufferField(r, "buffer", a)};
       }},
      {"SuperBlockListLog",
       [](const json& r, Arena& a) {
         return SuperBlockListLogRequest{Domain(r), static_cast<SbListOrder>(NumOr(r, "order", 3)),
                                         NumOr(r, "offset", 0), BufferField(r, "buffer", a)};
       }},
      {"SuperBlockInfoLog",
       [](const json& r, Arena& a) {
         return SuperBlockInfoLogRequest{
             Vd(r), SuperBlockId(static_cast<uint32_t>(Num(r.at("sb")))),
             NumOr(r, "retain_event", 0) != 0, BufferField(r, "buffer", a)};
       }},
      {"UserAddressListLog",
       [](const json& r, Arena& a) {
         return UserAddressListLogRequest{
             Domain(r), SuperBlockId(static_cast<uint32_t>(Num(r.at("sb")))),
             static_cast<uint32_t>(NumOr(r, "offset", 0)), BufferField(r, "buffer", a)};
       }},
      {"AddressChangeOrderLog",
       [](const json& r, Arena& a) {
         return AddressChangeOrderLogRequest{Domain(r), static_cast<uint32_t>(Num(r.at("aco_id"))),
                                             BufferField(r, "buffer", a)};
       }},
      {"ReadFifoLog",
       [](const json& r, Arena& a) {
         return ReadFifoLogRequest{Vd(r), BufferField(r, "buffer", a)};
       }},
      {"SetDiesPerSuperBlock",
       [](const json& r, Arena&) {
         return SetDiesPerSuperBlockRequest{Vd(r), static_cast<uint16_t>(Num(r.at("dies")))};
       }},
      {"SetReadFifo",
       [](const json& r, Arena&) {
         return SetReadFifoRequest{Vd(r), static_cast<ReadFifoAction>(NumOr(r, "action", 1)),
                                   ReadFifoId(static_cast<uint32_t>(Num(r.at("fifo")))),
                                   static_cast<uint16_t>(NumOr(r, "weight", 0)),
                                   NumOr(r, "vd_default", 0) != 0};
       }},
      {"DetachReadFifo",
       [](const json& r, Arena&) {
         return DetachReadFifoRequest{Vd(r), ReadFifoId(static_cast<uint32_t>(Num(r.at("fifo"))))};
       }},
      {"SetPslcSuperBlocks",
       [](const json& r, Arena&) {
         return SetPslcSuperBlocksRequest{Vd(r), static_cast<uint32_t>(Num(r.at("count")))};
       }},
      {"SetVdAenControl",
       [](const json& r, Arena&) {
         return SetVdAenControlRequest{Vd(r),
                                       static_cast<uint8_t>(NumOr(r, "critical_warning_mask", 7))};
       }},
      {"SetSuspendConfig",
       [](const json& r, Arena&) {
         return SetSuspendConfigRequest{
             Vd(r), static_cast<uint32_t>(NumOr(r, "min_time_until_suspend", 0))};
       }},
      {"ResetScheduler", [](const json& r, Arena&) { return ResetSchedulerRequest{Vd(r)}; }},
      {"GetReadFifoList",
       [](const json& r, Arena& a) {
         return GetReadFifoListRequest{Vd(r), BufferField(r, "buffer", a)};
       }},
      {"SetRootPointer",
       [](const json& r, Arena&) {
         return SetRootPointerRequest{Domain(r), static_cast<uint8_t>(Num(r.at("index"))),
                                      FlashAddress::FromRaw(Num(r.at("value")))};
       }},
      {"GetRootPointer",
       [](const json& r, Arena&) {
         return GetRootPointerRequest{Domain(r), static_cast<uint8_t>(Num(r.at("index")))};
       }},
      {"SetQosDomainCapacity",
       [](const json& r, Arena&) {
         return SetQosDomainCapacityRequest{Domain(r), NumOr(r, "pslc", 0) != 0,
                                            PlanePageCount(Num(r.at("capacity"))),
                                            PlanePageCount(Num(r.at("quota")))};
       }},
      {"SetWeights",
       [](const json& r, Arena&) {
         return SetWeightsRequest{Domain(r), static_cast<uint16_t>(NumOr(r, "program_weight", 0)),
                                  static_cast<uint16_t>(NumOr(r, "erase_weight", 0))};
       }},
      {"SetReadDeadline",
       [](const json& r, Arena&) {
         return SetReadDeadlineRequest{Domain(r), static_cast<ReadDeadline>(Num(r.at("deadline")))};
       }},
      {"SetMaxOpenSuperBlocks",
       [](const json& r, Arena&) {
         return SetMaxOpenSuperBlocksRequest{Domain(r),
                                             static_cast<uint16_t>(Num(r.at("max_open")))};
       }},
      {"SetDefaultReadFifo",
       [](const json& r, Arena&) {
         return SetDefaultReadFifoRequest{Domain(r),
                                          ReadFifoId(static_cast<uint32_t>(Num(r.at("fifo"))))};
       }},
      {"SetCapacityConfig",
       [](const json& r, Arena& a) {
         CapacityConfig config;
         const json& c = r.at("config");
         config.id = static_cast<uint16_t>(NumOr(c, "id", 2));
         for (const json& vd : c.at("vds")) {
           VdDies v{Vd(vd), {}};
           for (const json& die : vd.at("dies"))
             v.dies.push_back(DieId(static_cast<uint16_t>(Num(die))));
           config.vds.push_back(std::move(v));
         }
         return SetCapacityConfigRequest{std::move(config), BufferField(r, "payload", a)};
       }},
      {"GetCapacityConfig",
       [](const json& r, Arena& a) {
         return GetCapacityConfigRequest{BufferField(r, "buffer", a)};
       }},
      {"SelectCapacityConfig",
       [](const json& r, Arena&) {
         return SelectCapacityConfigRequest{static_cast<uint16_t>(Num(r.at("config_id")))};
       }},
      {"CreateQosDomain",
       [](const json& r, Arena& a) {
         return CreateQosDomainRequest{SpecOf(r.at("spec")), BufferField(r, "payload", a)};
       }},
      {"DeleteQosDomain", [](const json& r, Arena&) { return DeleteQosDomainRequest{Domain(r)}; }},
      {"AttachQosDomain",
       [](const json& r, Arena& a) {
         return AttachQosDomainRequest{Domain(r), static_cast<AttachAction>(NumOr(r, "action", 0)),
                                       static_cast<uint16_t>(NumOr(r, "controller", 0)),
                                       BufferField(r, "payload", a)};
       }},
  };
  return *builders;
}

const std::map<std::string, IoBuilder>& IoBuilders() {
  static const auto* builders = new std::map<std::string, IoBuilder>{
      {"SuperBlockManagement",
       [](const json& r, Arena& a) {
         return SuperBlockManagementRequest{
             Domain(r), static_cast<SbOperation>(Num(r.at("op"))),
             SuperBlockId(static_cast<uint32_t>(NumOr(r, "sb", 0xFFFFFFFF))),
             static_cast<uint16_t>(NumOr(r, "erase_weight", 0)), BufferField(r, "buffer", a)};
       }},
      {"FlashAddressRequest",
       [](const json& r, Arena& a) {
         FlashAddressRequest far;
         far.domain = Domain(r);
         const json& t = r.at("target");
         if (t.contains("sb")) {
           far.target = SuperBlockId(static_cast<uint32_t>(Num(t.at("sb"))));
         } else {
           far.target = PlacementId(static_cast<uint16_t>(Num(t.at("placement"))));
         }
         far.nlwid = static_cast<uint32_t>(Num(r.at("nlwid")));
         far.erase_weight = static_cast<uint16_t>(NumOr(r, "erase_weight", 0));
         far.arr = BufferField(r, "arr", a);
         return far;
       }},
      {"NamelessWrite",
       [](const json& r, Arena& a) {
         NamelessWriteRequest w;
         w.domain = Domain(r);
         const json& t = r.at("target");
         if (t.contains("sb")) {
           w.target = SuperBlockId(static_cast<uint32_t>(Num(t.at("sb"))));
         } else {
           w.target = ByPlacement{PlacementId(static_cast<uint16_t>(Num(t.at("placement")))),
                                  NumOr(t, "pslc", 0) != 0};
         }
         w.start = UserAddress::FromRaw(NumOr(r, "start", 0));
         w.adus = AduCount(static_cast<uint32_t>(Num(r.at("adus"))));
         w.fua = NumOr(r, "fua", 0) != 0;
         w.limited_retry = NumOr(r, "limited_retry", 0) != 0;
         w.nlwid = static_cast<uint32_t>(Num(r.at("nlwid")));
         w.program_weight = static_cast<uint16_t>(NumOr(r, "program_weight", 0));
         w.data = a.Vecs(r.at("data"));
         const MutableBytes meta = BufferField(r, "metadata", a);
         w.metadata = {meta.data, meta.size};
         return w;
       }},
      {"Read",
       [](const json& r, Arena& a) {
         ReadRequest rd;
         rd.address = FlashAddress::FromRaw(Num(r.at("address")));
         rd.adus = AduCount(static_cast<uint32_t>(Num(r.at("adus"))));
         rd.verify = UserAddress::FromRaw(NumOr(r, "verify", ~uint64_t{0}));
         rd.fifo = ReadFifoId(static_cast<uint32_t>(NumOr(r, "fifo", 0xFFFFFFFF)));
         rd.read_weight = static_cast<uint16_t>(NumOr(r, "read_weight", 0));
         rd.data = r.contains("data") ? a.Vecs(r.at("data")) : IoVecs{};
         rd.metadata = BufferField(r, "metadata", a);
         return rd;
       }},
      {"NamelessCopy",
       [](const json& r, Arena& a) {
         NamelessCopyRequest c;
         c.destination = Domain(r, "destination");
         c.destination_sb = SuperBlockId(static_cast<uint32_t>(Num(r.at("destination_sb"))));
         const json& s = r.at("source");
         if (s.contains("bitmap")) {
           CopyBitmap b{FlashAddress::FromRaw(Num(s.at("bitmap").at("start"))), {}};
           for (const json& w : s.at("bitmap").at("words"))
             b.words.push_back(static_cast<uint32_t>(Num(w)));
           c.source = std::move(b);
         } else {
           CopyList l;
           for (const json& f : s.at("list")) l.addresses.push_back(FlashAddress::FromRaw(Num(f)));
           c.source = std::move(l);
         }
         if (r.contains("filter")) {
           const json& f = r.at("filter");
           c.filter = UserAddressFilter{UserAddress::FromRaw(Num(f.at("start"))),
                                        Num(f.at("length")), NumOr(f, "exclude", 0) != 0};
         }
         c.nlcid = static_cast<uint32_t>(Num(r.at("nlcid")));
         c.program_weight = static_cast<uint16_t>(NumOr(r, "program_weight", 0));
         c.payload = BufferField(r, "payload", a);
         return c;
       }},
      {"GetCopyResult",
       [](const json& r, Arena& a) {
         return GetCopyResultRequest{Domain(r, "destination"),
                                     static_cast<uint32_t>(Num(r.at("nlcid"))),
                                     NumOr(r, "fua", 0) != 0, BufferField(r, "acr", a)};
       }},
  };
  return *builders;
}

// ---- comparison -----------------------------------------------------------------------------

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

void ExpectMatches(const Command& c, const json& e) {
  EXPECT_EQ(c.sqe.opcode, Num(e.at("opcode")));
  EXPECT_EQ(c.sqe.nsid, Num(e.at("nsid")));
  EXPECT_EQ(c.sqe.flags, 0);
  EXPECT_EQ(c.sqe.cdw2, 0u);
  EXPECT_EQ(c.sqe.cdw3, 0u);
  const uint32_t cdws[] = {c.sqe.cdw10, c.sqe.cdw11, c.sqe.cdw12,
                           c.sqe.cdw13, c.sqe.cdw14, c.sqe.cdw15};
  for (int i = 0; i < 6; ++i) {
    const std::string key = "cdw1" + std::to_string(i);
    EXPECT_EQ(Hex32(cdws[i]), Hex32(static_cast<uint32_t>(Num(e.at(key))))) << key;
  }
  EXPECT_EQ(c.sqe.data_len, Num(e.at("data_len"))) << "data_len";
  EXPECT_EQ(c.sqe.metadata_len, NumOr(e, "metadata_len", 0)) << "metadata_len";
  EXPECT_EQ(c.sqe.timeout_ms, NumOr(e, "timeout_ms", 0)) << "timeout_ms";
  EXPECT_EQ(c.queue == QueueType::kIo ? "io" : "admin", e.at("queue").get<std::string>());
  const char* dir = c.direction == DataDirection::kHostToDevice   ? "to_device"
                    : c.direction == DataDirection::kDeviceToHost ? "from_device"
                                                                  : "none";
  EXPECT_EQ(dir, e.at("direction").get<std::string>());
  EXPECT_EQ(c.vectored, e.value("vectored", false));
}

void ExpectPayload(const Command& c, const json& tc) {
  if (!tc.contains("payload")) return;
  const auto* data = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(c.sqe.addr));
  for (const json& p : tc.at("payload")) {
    const uint64_t offset = Num(p.at("offset"));
    const std::string hex = p.at("hex").get<std::string>();
    ASSERT_LE(offset + hex.size() / 2, c.sqe.data_len) << "payload check past data_len";
    for (size_t i = 0; i < hex.size() / 2; ++i) {
      const auto expected = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
      EXPECT_EQ(data[offset + i], expected) << "payload byte " << offset + i;
    }
  }
}

json Load(const std::string& name) {
  std::ifstream in("testdata/golden/" + name);
  EXPECT_TRUE(in.good()) << "cannot open testdata/golden/" << name;
  return json::parse(in);
}

// The lengths the encoder chose are the ones TransferOf computes from the fields (where the
// command moves data or metadata at all, and where a field gives the length).
void ExpectTransferOf(const Command& c) {
  const Transfer t = TransferOf(c.sqe, c.queue);
  EXPECT_EQ(t.direction, c.direction) << "TransferOf direction";
  if (c.data_bytes() != 0 && t.from_fields) {
    EXPECT_EQ(t.data_bytes, c.data_bytes()) << "TransferOf data bytes";
  }
  if (c.sqe.metadata_len != 0) {
    EXPECT_EQ(t.metadata_bytes, c.sqe.metadata_len) << "TransferOf metadata bytes";
  }
}

DomainFormat FormatOf(const json& f) {
  return {{static_cast<uint8_t>(Num(f.at("sb_bits"))),
           static_cast<uint8_t>(Num(f.at("adu_offset_bits")))},
          static_cast<uint32_t>(Num(f.at("num_placement_ids")))};
}

TEST(GoldenTest, AdminCommands) {
  const json doc = Load("admin.json");
  ASSERT_FALSE(doc.at("cases").empty());
  for (const json& tc : doc.at("cases")) {
    SCOPED_TRACE(tc.at("name").get<std::string>());
    const auto it = AdminBuilders().find(tc.at("command").get<std::string>());
    ASSERT_NE(it, AdminBuilders().end()) << "unknown command " << tc.at("command");
    Arena arena;
    const AdminRequest request = it->second(tc.at("request"), arena);
    absl::StatusOr<Command> c = Encode(request);
    ASSERT_TRUE(c.ok()) << c.status();
    ExpectMatches(*c, tc.at("expect"));
    ExpectPayload(*c, tc);
    ExpectTransferOf(*c);
    absl::StatusOr<AdminRequest> decoded = DecodeAdmin(*c);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(*decoded == TransferredPart(request, *c)) << "decode(encode(x)) != x";
  }
}

TEST(GoldenTest, IoCommands) {
  const json doc = Load("io.json");
  ASSERT_FALSE(doc.at("cases").empty());
  const DomainFormat default_format = FormatOf(doc.at("format"));
  for (const json& tc : doc.at("cases")) {
    SCOPED_TRACE(tc.at("name").get<std::string>());
    const auto it = IoBuilders().find(tc.at("command").get<std::string>());
    ASSERT_NE(it, IoBuilders().end()) << "unknown command " << tc.at("command");
    const DomainFormat format = tc.contains("format") ? FormatOf(tc.at("format")) : default_format;
    Arena arena;
    const IoRequest request = it->second(tc.at("request"), arena);
    absl::StatusOr<Command> c = Encode(request, format);
    ASSERT_TRUE(c.ok()) << c.status();
    ExpectMatches(*c, tc.at("expect"));
    ExpectPayload(*c, tc);
    ExpectTransferOf(*c);
    absl::StatusOr<IoRequest> decoded = DecodeIo(*c, format);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(*decoded == TransferredPart(request, *c)) << "decode(encode(x)) != x";
  }
}

// Every command of the command set has at least one golden case.
TEST(GoldenTest, EveryCommandIsCovered) {
  std::set<std::string> seen;
  for (const char* file : {"admin.json", "io.json"}) {
    const json doc = Load(file);
    for (const json& tc : doc.at("cases")) seen.insert(tc.at("command").get<std::string>());
  }
  for (const auto& [name, builder] : AdminBuilders()) EXPECT_TRUE(seen.count(name)) << name;
  for (const auto& [name, builder] : IoBuilders()) EXPECT_TRUE(seen.count(name)) << name;
  EXPECT_EQ(AdminBuilders().size(), std::variant_size_v<AdminRequest>);
  EXPECT_EQ(IoBuilders().size(), std::variant_size_v<IoRequest>);
}

}  // namespace
}  // namespace sef::cmd
