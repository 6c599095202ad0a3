#include "sef/hal/model/unit_config.h"

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sef/hal/cmd/wire.h"

namespace sef::model {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr uint32_t kAllFour =
    wire::kCapPerfect | wire::kCapCopyUaRange | wire::kCapCopyFlaList | wire::kCapPslc;

// A valid document that each test breaks in one place.
Json Base() {
  return Json::parse(R"({
    "name": "t",
    "geometry": {"channels": 2, "banks": 2, "planes": 2, "pages_per_block": 4,
                 "blocks_per_die": 16, "plane_data_bytes": 16384}
  })");
}

// Parses `j` and expects InvalidArgument whose message contains every piece.
template <typename... Pieces>
void ExpectInvalid(const Json& j, const Pieces&... pieces) {
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(j.dump());
  ASSERT_FALSE(c.ok()) << j.dump();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_THAT(std::string(c.status().message()), AllOf(HasSubstr(pieces)...)) << j.dump();
}

void ExpectSameConfig(const UnitConfig& a, const UnitConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.serial, b.serial);
  EXPECT_EQ(a.model_number, b.model_number);
  EXPECT_EQ(a.channels, b.channels);
  EXPECT_EQ(a.banks, b.banks);
  EXPECT_EQ(a.planes, b.planes);
  EXPECT_EQ(a.pages_per_block, b.pages_per_block);
  EXPECT_EQ(a.blocks_per_die, b.blocks_per_die);
  EXPECT_EQ(a.plane_data_bytes, b.plane_data_bytes);
  EXPECT_EQ(a.max_qos_domains, b.max_qos_domains);
  EXPECT_EQ(a.max_placement_ids, b.max_placement_ids);
  EXPECT_EQ(a.max_open_super_blocks, b.max_open_super_blocks);
  EXPECT_EQ(a.read_fifos, b.read_fifos);
  EXPECT_EQ(a.open_expiration_seconds, b.open_expiration_seconds);
  EXPECT_EQ(a.patrol_cycle_minutes, b.patrol_cycle_minutes);
  EXPECT_EQ(a.pages_to_secure_integrity, b.pages_to_secure_integrity);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.capabilities, b.capabilities);
  EXPECT_EQ(a.pslc, b.pslc);
  EXPECT_EQ(a.write_cache, b.write_cache);
}

// ---- shipped units ------------------------------------------------------------------------

TEST(ShippedUnits, Tiny) {
  absl::StatusOr<UnitConfig> c = LoadUnitConfig("testdata/units/tiny.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "tiny");
  EXPECT_EQ(c->serial, "SEFTINY0001");
  EXPECT_EQ(c->dies(), 4u);
  EXPECT_EQ(c->adus_per_plane_page(), 4u);
  EXPECT_EQ(c->adus_per_page(), 8u);
  EXPECT_EQ(c->adus_per_block(), 32u);
  EXPECT_EQ(c->total_adus(), 2048u);  // 32 ADUs x 16 blocks x 4 dies = 8 MiB
  EXPECT_EQ(c->max_qos_domains, 8u);
  EXPECT_EQ(c->max_placement_ids, 4u);
  EXPECT_EQ(c->max_open_super_blocks, 4u);
  EXPECT_EQ(c->read_fifos, 8u);
  EXPECT_EQ(c->address, (AddressFormat{16, 16}));
  EXPECT_EQ(c->capabilities, kAllFour);
  EXPECT_TRUE(c->pslc);
  EXPECT_EQ(c->write_cache, WriteCache::kNone);  // the crash suites of the model rely on it
}

TEST(ShippedUnits, Default) {
  absl::StatusOr<UnitConfig> c = LoadUnitConfig("testdata/units/default.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dies(), 16u);
  EXPECT_EQ(c->adus_per_block(), 512u);  // 2 MiB
  EXPECT_EQ(c->total_adus(), 1048576u);  // 4 GiB of data
  EXPECT_EQ(c->total_adus() * 4096, uint64_t{4} << 30);
  EXPECT_EQ(c->max_qos_domains, 16u);
  EXPECT_EQ(c->max_placement_ids, 8u);
  EXPECT_EQ(c->max_open_super_blocks, 16u);
  EXPECT_EQ(c->read_fifos, 16u);
  EXPECT_EQ(c->open_expiration_seconds, 0u);
  EXPECT_EQ(c->address, (AddressFormat{24, 24}));
  EXPECT_EQ(c->capabilities, kAllFour);
  EXPECT_EQ(c->write_cache, WriteCache::kVolatile);  // VMs see a drive that can lose data
}

TEST(ShippedUnits, Ld2) {
  absl::StatusOr<UnitConfig> c = LoadUnitConfig("testdata/units/ld2.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dies(), 192u);
  EXPECT_EQ(c->adus_per_plane_page(), 4u);
  EXPECT_EQ(c->adus_per_block(), 14336u);  // 1792 pages x 2 planes x 4
  // The spec's 8-die VD: SB capacity 114688 ADUs.
  EXPECT_EQ(c->adus_per_block() * 8, 114688u);
  EXPECT_EQ(c->total_adus(), uint64_t{14336} * 3294 * 192);
  // Both limits of 24/24 hold: 2752512 <= 2^24 ADUs per SB, 632448 <= 2^24 SBs.
  EXPECT_LE(c->adus_per_block() * c->dies(), uint64_t{1} << 24);
  EXPECT_LE(uint64_t{c->blocks_per_die} * c->dies(), uint64_t{1} << 24);
  EXPECT_EQ(c->max_qos_domains, 512u);
  EXPECT_EQ(c->max_placement_ids, 16u);
  EXPECT_EQ(c->max_open_super_blocks, 2048u);
  EXPECT_EQ(c->read_fifos, 384u);
  EXPECT_EQ(c->open_expiration_seconds, 43200u);
  EXPECT_EQ(c->write_cache, WriteCache::kVolatile);
}

// ---- defaults -------------------------------------------------------------------------------

TEST(Parse, MinimalDocumentTakesDefaults) {
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(Base().dump());
  ASSERT_TRUE(c.ok()) << c.status();
  const UnitConfig d;
  EXPECT_EQ(c->serial, d.serial);
  EXPECT_EQ(c->model_number, d.model_number);
  EXPECT_EQ(c->max_qos_domains, d.max_qos_domains);
  EXPECT_EQ(c->max_placement_ids, d.max_placement_ids);
  EXPECT_EQ(c->max_open_super_blocks, d.max_open_super_blocks);
  EXPECT_EQ(c->read_fifos, d.read_fifos);
  EXPECT_EQ(c->open_expiration_seconds, 0u);
  EXPECT_EQ(c->patrol_cycle_minutes, 0u);
  EXPECT_EQ(c->pages_to_secure_integrity, 1u);
  EXPECT_EQ(c->address, (AddressFormat{24, 24}));
  EXPECT_TRUE(c->pslc);
  EXPECT_EQ(c->capabilities, kAllFour);
  EXPECT_EQ(c->write_cache, WriteCache::kNone);
}

TEST(Parse, WriteCache) {
  Json j = Base();
  j["write_cache"] = "volatile";
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->write_cache, WriteCache::kVolatile);
  j["write_cache"] = "none";
  c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->write_cache, WriteCache::kNone);
  j["write_cache"] = "Volatile";
  ExpectInvalid(j, "write_cache: \"Volatile\" is not \"none\" or \"volatile\"");
  j["write_cache"] = true;
  ExpectInvalid(j, "write_cache", "expected a string", "true");
  // Validate checks a config built in C++ the same way.
  UnitConfig bad = *c;
  bad.write_cache = static_cast<WriteCache>(7);
  EXPECT_THAT(std::string(bad.Validate().message()), HasSubstr("write_cache: 7 is not"));
}

TEST(Parse, DefaultCapabilitiesWithoutPslc) {
  Json j = Base();
  j["pslc"] = false;
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->pslc);
  EXPECT_EQ(c->capabilities, kAllFour & ~uint32_t{wire::kCapPslc});
}

TEST(Parse, IdentityFieldsAreIndividuallyOptional) {
  Json j = Base();
  j["identity"] = {{"serial", "S1"}};
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->serial, "S1");
  EXPECT_EQ(c->model_number, UnitConfig().model_number);
}

TEST(Parse, CapabilitiesInAnyOrder) {
  Json j = Base();
  j["capabilities"] = {"pslc", "copy_flash_address_list", "perfect"};
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->capabilities, wire::kCapPslc | wire::kCapCopyFlaList | wire::kCapPerfect);
}

// ---- name and identity ----------------------------------------------------------------------

TEST(Validation, NameRequired) {
  Json j = Base();
  j.erase("name");
  ExpectInvalid(j, "name", "missing");
}

TEST(Validation, NameNotEmpty) {
  Json j = Base();
  j["name"] = "";
  ExpectInvalid(j, "name: \"\"", "empty");
}

TEST(Validation, SerialAtMost20Characters) {
  Json j = Base();
  j["identity"] = {{"serial", std::string(20, 'S')}};
  EXPECT_TRUE(ParseUnitConfig(j.dump()).ok());
  j["identity"]["serial"] = std::string(21, 'S');
  ExpectInvalid(j, "identity.serial", std::string(21, 'S'), "21", "20");
}

TEST(Validation, ModelAtMost40Characters) {
  Json j = Base();
  j["identity"] = {{"model", std::string(40, 'M')}};
  EXPECT_TRUE(ParseUnitConfig(j.dump()).ok());
  j["identity"]["model"] = std::string(41, 'M');
  ExpectInvalid(j, "identity.model", std::string(41, 'M'), "41", "40");
}

TEST(Validation, IdentityIsAscii) {
  Json j = Base();
  j["identity"] = {{"serial", "S\xC3\xA9RIAL"}};
  ExpectInvalid(j, "identity.serial", "printable ASCII");
}

// ---- geometry -------------------------------------------------------------------------------

struct RangeCase {
  const char* section;
  const char* key;
  int64_t min;
  int64_t max;
};

class RangeTest : public ::testing::TestWithParam<RangeCase> {};

TEST_P(RangeTest, RejectsBelowAndAboveAcceptsBounds) {
  const RangeCase& r = GetParam();
  const std::string path = std::string(r.section) + "." + r.key;
  const std::string range = std::to_string(r.min) + ".." + std::to_string(r.max);
  auto with = [&](int64_t v) {
    Json j = Base();
    j[r.section][r.key] = v;
    return j;
  };
  EXPECT_TRUE(ParseUnitConfig(with(r.min).dump()).ok()) << path << "=" << r.min;
  // The geometry maxima do not fit Base's 24/24 addressing; the next test covers them.
  if (std::string(r.section) == "limits") {
    EXPECT_TRUE(ParseUnitConfig(with(r.max).dump()).ok()) << path << "=" << r.max;
  }
  if (r.min > 0) {
    ExpectInvalid(with(r.min - 1), path + ": " + std::to_string(r.min - 1), range);
  }
  ExpectInvalid(with(-1), path + ": -1", range);
  ExpectInvalid(with(r.max + 1), path + ": " + std::to_string(r.max + 1), range);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, RangeTest,
    ::testing::Values(RangeCase{"geometry", "channels", 1, 256},
                      RangeCase{"geometry", "banks", 1, 256},
                      RangeCase{"geometry", "planes", 1, 256},
                      RangeCase{"geometry", "pages_per_block", 1, 65536},
                      RangeCase{"geometry", "blocks_per_die", 1, 65536},
                      RangeCase{"limits", "max_qos_domains", 1, 65534},
                      RangeCase{"limits", "max_placement_ids", 1, 65536},
                      RangeCase{"limits", "max_open_super_blocks", 1, 65535},
                      RangeCase{"limits", "read_fifos", 1, 65535},
                      RangeCase{"limits", "open_expiration_seconds", 0, 65535},
                      RangeCase{"limits", "patrol_cycle_minutes", 0, 65535},
                      RangeCase{"limits", "pages_to_secure_integrity", 1, 255}),
    [](const ::testing::TestParamInfo<RangeCase>& info) { return std::string(info.param.key); });

TEST(Validation, GeometryUpperBoundsAcceptedWithWideAddressing) {
  // 256 x 256 dies of 65536 blocks: 2^32 super blocks at most; 1 page, 1 plane of 4 KiB.
  Json j = Base();
  j["geometry"] = {{"channels", 256},
                   {"banks", 256},
                   {"planes", 1},
                   {"pages_per_block", 1},
                   {"blocks_per_die", 65536},
                   {"plane_data_bytes", 4096}};
  j["addressing"] = {{"super_block_id_bits", 32}, {"adu_offset_bits", 16}};
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dies(), 65536u);

  j["geometry"] = {{"channels", 1},       {"banks", 1},
                   {"planes", 256},       {"pages_per_block", 65536},
                   {"blocks_per_die", 1}, {"plane_data_bytes", 1048576}};
  j["addressing"] = {{"super_block_id_bits", 16}, {"adu_offset_bits", 32}};
  c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->adus_per_block(), uint64_t{1} << 32);
}

TEST(Validation, GeometryAllRequired) {
  for (const char* key :
       {"channels", "banks", "planes", "pages_per_block", "blocks_per_die", "plane_data_bytes"}) {
    Json j = Base();
    j["geometry"].erase(key);
    ExpectInvalid(j, std::string("geometry.") + key, "missing");
  }
  Json j = Base();
  j.erase("geometry");
  ExpectInvalid(j, "geometry", "missing");
}

TEST(Validation, PlaneDataBytesPowerOfTwoInRange) {
  for (int64_t ok : {4096, 8192, 16384, 1048576}) {
    Json j = Base();
    j["geometry"]["plane_data_bytes"] = ok;
    EXPECT_TRUE(ParseUnitConfig(j.dump()).ok()) << ok;
  }
  for (int64_t bad : {0, 2048, 12288, 2097152, -4096}) {
    Json j = Base();
    j["geometry"]["plane_data_bytes"] = bad;
    ExpectInvalid(j, "geometry.plane_data_bytes: " + std::to_string(bad), "power of two",
                  "4096..1048576");
  }
}

// ---- adu and root pointers ------------------------------------------------------------------

TEST(Validation, AduMustBe4096Plus16) {
  Json j = Base();
  j["adu"] = {{"data_bytes", 4096}, {"metadata_bytes", 16}};
  EXPECT_TRUE(ParseUnitConfig(j.dump()).ok());
  j["adu"]["data_bytes"] = 512;
  ExpectInvalid(j, "adu.data_bytes: 512", "4096");
  j["adu"] = {{"metadata_bytes", 8}};
  ExpectInvalid(j, "adu.metadata_bytes: 8", "16");
}

TEST(Validation, RootPointersMustBe8) {
  Json j = Base();
  j["limits"] = {{"root_pointers", 8}};
  EXPECT_TRUE(ParseUnitConfig(j.dump()).ok());
  j["limits"]["root_pointers"] = 16;
  ExpectInvalid(j, "limits.root_pointers: 16", "8");
}

// ---- addressing -----------------------------------------------------------------------------

TEST(Validation, AddressFormatRules) {
  Json j = Base();
  j["addressing"] = {{"super_block_id_bits", 0}};
  ExpectInvalid(j, "addressing", "width 0", "1..32");
  j["addressing"] = {{"adu_offset_bits", 33}};
  ExpectInvalid(j, "addressing", "width 33", "1..32");
  j["addressing"] = {{"super_block_id_bits", 32}, {"adu_offset_bits", 32}};
  ExpectInvalid(j, "addressing", "32", "48 bits");
  j["addressing"] = {{"super_block_id_bits", 300}};
  ExpectInvalid(j, "addressing.super_block_id_bits: 300");
}

TEST(Validation, LargestSuperBlockMustFitAduOffset) {
  // Tiny: 32 ADUs per block x 4 dies = 128 ADUs in the largest super block.
  Json j = Base();
  j["addressing"] = {{"super_block_id_bits", 16}, {"adu_offset_bits", 7}};
  EXPECT_TRUE(ParseUnitConfig(j.dump()).ok());
  j["addressing"]["adu_offset_bits"] = 6;
  ExpectInvalid(j, "addressing.adu_offset_bits: 6 bits", "64", "128");
}

TEST(Validation, SuperBlockCountMustFitSuperBlockId) {
  // 16 blocks x 4 dies = 64 super blocks at most (one die each).
  Json j = Base();
  j["addressing"] = {{"super_block_id_bits", 6}, {"adu_offset_bits", 16}};
  EXPECT_TRUE(ParseUnitConfig(j.dump()).ok());
  j["addressing"]["super_block_id_bits"] = 5;
  ExpectInvalid(j, "addressing.super_block_id_bits: 5 bits", "32", "64");
}

// ---- capabilities ---------------------------------------------------------------------------

TEST(Validation, PerfectRequired) {
  Json j = Base();
  j["capabilities"] = {"copy_user_address_range", "pslc"};
  ExpectInvalid(j, "capabilities", "\"copy_user_address_range\"", "\"perfect\"", "required");
  j["capabilities"] = Json::array();
  ExpectInvalid(j, "capabilities: []", "\"perfect\"");
}

TEST(Validation, UnimplementedCapabilities) {
  for (const char* name :
       {"fragmented", "packed", "mixed", "independent_nlw", "sgl_read", "sgl_write",
        "explicit_adu_offset", "sb_by_nlw_and_nlc", "shared_read_fifos"}) {
    Json j = Base();
    j["capabilities"] = {"perfect", "pslc", name};
    ExpectInvalid(j, "capabilities", std::string("\"") + name + "\"", "not implemented");
  }
}

// The model pairs FAR+NLW and NLC+GCR in either order, on any queue: bits 9 and 10 may be listed.
TEST(Validation, AnyQueuePairingMayBeAdvertised) {
  Json j = Base();
  j["capabilities"] = {"perfect", "pslc", "far_nlw_any_queue", "nlc_gcr_any_queue"};
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->capabilities & (wire::kCapFarNlwAnyQueue | wire::kCapNlcGcrAnyQueue),
            wire::kCapFarNlwAnyQueue | wire::kCapNlcGcrAnyQueue);
}

TEST(Validation, UnknownCapability) {
  Json j = Base();
  j["capabilities"] = {"perfect", "pslc", "telepathy"};
  ExpectInvalid(j, "capabilities", "\"telepathy\"", "not a known");
}

TEST(Validation, DuplicateCapability) {
  Json j = Base();
  j["capabilities"] = {"perfect", "pslc", "perfect"};
  ExpectInvalid(j, "capabilities", "\"perfect\"", "twice");
}

TEST(Validation, PslcCapabilityOnlyWithPslc) {
  Json j = Base();
  j["pslc"] = false;
  j["capabilities"] = {"perfect", "pslc"};
  ExpectInvalid(j, "capabilities", "\"pslc\"", "false");
  j["capabilities"] = {"perfect"};
  EXPECT_TRUE(ParseUnitConfig(j.dump()).ok());
}

TEST(Validation, PslcCapabilityListedWhenPslc) {
  Json j = Base();
  j["capabilities"] = {"perfect", "copy_user_address_range"};
  ExpectInvalid(j, "capabilities", "must list \"pslc\"");
}

TEST(Validation, CapabilitiesTypes) {
  Json j = Base();
  j["capabilities"] = "perfect";
  ExpectInvalid(j, "capabilities", "expected an array", "\"perfect\"");
  j["capabilities"] = {"perfect", 3};
  ExpectInvalid(j, "capabilities[1]", "expected a string", "3");
}

// ---- Validate on a struct built in C++ -------------------------------------------------------

UnitConfig ValidStruct() {
  UnitConfig c;
  c.name = "cpp";
  c.channels = 2;
  c.banks = 2;
  c.capabilities = kAllFour;
  return c;
}

TEST(ValidateStruct, SameRulesAsTheParser) {
  EXPECT_TRUE(ValidStruct().Validate().ok()) << ValidStruct().Validate();

  auto expect_invalid = [](const UnitConfig& c, const std::string& piece) {
    absl::Status s = c.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << piece;
    EXPECT_THAT(std::string(s.message()), HasSubstr(piece));
  };
  UnitConfig c = ValidStruct();
  c.name.clear();
  expect_invalid(c, "name");
  c = ValidStruct();
  c.planes = 0;
  expect_invalid(c, "geometry.planes: 0 is outside 1..256");
  c = ValidStruct();
  c.channels = 1u << 31;  // must not overflow the derived products
  expect_invalid(c, "geometry.channels: 2147483648 is outside 1..256");
  c = ValidStruct();
  c.plane_data_bytes = 12288;
  expect_invalid(c, "geometry.plane_data_bytes: 12288 is not a power of two");
  c = ValidStruct();
  c.max_qos_domains = 65535;
  expect_invalid(c, "limits.max_qos_domains: 65535 is outside 1..65534");
  c = ValidStruct();
  c.address = {0, 24};
  expect_invalid(c, "addressing: super block id width 0");
  c = ValidStruct();
  c.capabilities = 0;  // the struct default: the model's required "perfect" is missing
  expect_invalid(c, "\"perfect\"");
  c = ValidStruct();
  c.capabilities |= wire::kCapMixed;
  expect_invalid(c, "\"mixed\" is not implemented");
  c = ValidStruct();
  c.capabilities |= 1u << 20;
  expect_invalid(c, "0x100000");
  c = ValidStruct();
  c.pslc = false;
  expect_invalid(c, "\"pslc\" is false");
  c = ValidStruct();
  c.serial = std::string(21, 'x');
  expect_invalid(c, "identity.serial");
  c = ValidStruct();
  c.name = "\xFF";
  expect_invalid(c, "name: is not valid UTF-8");
}

// ---- strictness and robustness --------------------------------------------------------------

TEST(Strictness, UnknownTopLevelKey) {
  Json j = Base();
  j["description"] = "x";
  ExpectInvalid(j, "description", "unknown key");
}

TEST(Strictness, UnknownKeyInEverySection) {
  const char* sections[] = {"identity", "geometry", "adu", "limits", "addressing"};
  for (const char* section : sections) {
    Json j = Base();
    if (!j.contains(section)) j[section] = Json::object();
    j[section]["plane"] = 2;  // a typo of "planes"
    ExpectInvalid(j, std::string(section) + ".plane", "unknown key");
  }
}

TEST(Strictness, DuplicateKey) {
  const std::string text = R"({"name": "t", "geometry": {"channels": 2, "banks": 2, "planes": 2,
      "pages_per_block": 4, "blocks_per_die": 16, "plane_data_bytes": 16384, "planes": 4}})";
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("geometry.planes"));
}

TEST(Strictness, MalformedJson) {
  for (const char* text : {"", "{", "{\"name\": \"t\",}", "not json", "{\"name\": 't'}",
                           "{\"name\": \"t\"} trailing", "\xFF\xFE"}) {
    absl::StatusOr<UnitConfig> c = ParseUnitConfig(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("invalid JSON")) << text;
  }
}

TEST(Strictness, TopLevelNotAnObject) {
  for (const char* text : {"[]", "3", "\"tiny\"", "null"}) {
    absl::StatusOr<UnitConfig> c = ParseUnitConfig(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("top level")) << text;
  }
}

TEST(Strictness, WrongTypes) {
  Json j = Base();
  j["geometry"]["planes"] = "2";
  ExpectInvalid(j, "geometry.planes", "expected an integer", "\"2\"");
  j = Base();
  j["geometry"]["planes"] = 2.5;
  ExpectInvalid(j, "geometry.planes", "expected an integer", "2.5");
  j = Base();
  j["geometry"]["planes"] = nullptr;
  ExpectInvalid(j, "geometry.planes", "expected an integer", "null");
  j = Base();
  j["limits"] = {{"read_fifos", true}};
  ExpectInvalid(j, "limits.read_fifos", "expected an integer", "true");
  j = Base();
  j["addressing"] = {{"adu_offset_bits", "24"}};
  ExpectInvalid(j, "addressing.adu_offset_bits", "expected an integer");
  j = Base();
  j["name"] = 7;
  ExpectInvalid(j, "name", "expected a string", "7");
  j = Base();
  j["identity"] = {{"serial", 1}};
  ExpectInvalid(j, "identity.serial", "expected a string");
  j = Base();
  j["pslc"] = "yes";
  ExpectInvalid(j, "pslc", "expected true or false", "\"yes\"");
  j = Base();
  j["geometry"] = Json::array({1, 2});
  ExpectInvalid(j, "geometry", "expected an object");
  j = Base();
  j["limits"] = 5;
  ExpectInvalid(j, "limits", "expected an object");
}

TEST(Strictness, HugeAndNegativeNumbers) {
  // Beyond uint64 nlohmann parses a float: reported as not an integer, never a crash.
  std::string text = Base().dump();
  text.replace(text.find("\"planes\":2"), 10, "\"planes\":99999999999999999999999");
  absl::StatusOr<UnitConfig> c = ParseUnitConfig(text);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("geometry.planes"));

  Json j = Base();
  j["geometry"]["banks"] = int64_t{-9223372036854775807} - 1;
  ExpectInvalid(j, "geometry.banks: -9223372036854775808", "1..256");
  j = Base();
  j["geometry"]["banks"] = ~uint64_t{0};
  ExpectInvalid(j, "geometry.banks: 18446744073709551615", "1..256");
}

// ---- canonical JSON -------------------------------------------------------------------------

TEST(ToJson, RoundTripsFieldByField) {
  for (const char* name : {"tiny", "default", "ld2"}) {
    absl::StatusOr<UnitConfig> c = LoadUnitConfig(std::string("testdata/units/") + name + ".json");
    ASSERT_TRUE(c.ok()) << c.status();
    const std::string text = UnitConfigToJson(*c);
    absl::StatusOr<UnitConfig> back = ParseUnitConfig(text);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
    ExpectSameConfig(*c, *back);
    EXPECT_EQ(UnitConfigToJson(*back), text);
  }
  // Non-default values everywhere, including pslc off.
  UnitConfig c = ValidStruct();
  c.name = "odd \"name\" \xC3\xA9";
  c.serial = "S";
  c.model_number = "M";
  c.planes = 4;
  c.pages_per_block = 7;
  c.blocks_per_die = 9;
  c.plane_data_bytes = 8192;
  c.max_qos_domains = 3;
  c.max_placement_ids = 5;
  c.max_open_super_blocks = 6;
  c.read_fifos = 11;
  c.open_expiration_seconds = 12;
  c.patrol_cycle_minutes = 13;
  c.pages_to_secure_integrity = 2;
  c.address = {20, 28};
  c.pslc = false;
  c.capabilities = wire::kCapPerfect | wire::kCapCopyFlaList;
  c.write_cache = WriteCache::kVolatile;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  absl::StatusOr<UnitConfig> back = ParseUnitConfig(UnitConfigToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameConfig(c, *back);
}

TEST(ToJson, CanonicalShape) {
  UnitConfig c = ValidStruct();
  c.capabilities = wire::kCapPslc | wire::kCapCopyUaRange | wire::kCapPerfect;
  const Json j = Json::parse(UnitConfigToJson(c));
  EXPECT_EQ(j["capabilities"], Json({"perfect", "copy_user_address_range", "pslc"}));  // bit order
  EXPECT_EQ(j["adu"], Json({{"data_bytes", 4096}, {"metadata_bytes", 16}}));
  EXPECT_EQ(j["limits"]["root_pointers"], 8);
  // Fixed key order: the text, not just the parsed value, is canonical.
  const std::string text = UnitConfigToJson(c);
  const char* order[] = {"\"name\"",         "\"identity\"", "\"geometry\"",
                         "\"adu\"",          "\"limits\"",   "\"addressing\"",
                         "\"capabilities\"", "\"pslc\"",     "\"write_cache\": \"none\""};
  size_t last = 0;
  for (const char* key : order) {
    const size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GT(at, last) << key;
    last = at;
  }
}

TEST(ToJson, InvalidConfigDoesNotThrow) {
  UnitConfig c;
  c.name = "\xFF\xFE";
  c.capabilities = 1u << 30;
  const std::string text = UnitConfigToJson(c);
  EXPECT_THAT(text, HasSubstr("bit30"));
  EXPECT_FALSE(ParseUnitConfig(text).ok());
}

// ---- files ----------------------------------------------------------------------------------

TEST(Load, MissingFileNamesThePath) {
  absl::StatusOr<UnitConfig> c = LoadUnitConfig("testdata/units/no_such_unit.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()),
              AllOf(HasSubstr("testdata/units/no_such_unit.json"), HasSubstr("No such file")));
}

TEST(Load, DirectoryIsAnError) {
  absl::StatusOr<UnitConfig> c = LoadUnitConfig("testdata/units");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("testdata/units"));
}

TEST(Load, ParseErrorsArePrefixedWithThePath) {
  const std::string path = ::testing::TempDir() + "bad_unit.json";
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(R"({"name": "t", "geometry": {"channels": 0}})", f);
    fclose(f);
  }
  absl::StatusOr<UnitConfig> c = LoadUnitConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr(path + ": geometry.channels: 0 is outside 1..256"));
}

}  // namespace
}  // namespace sef::model
