#include "sef/units/units.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sef/hal/hal.h"

namespace sef::units {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base != nullptr ? base : "/tmp") + "/" + name;
  mkdir(dir.c_str(), 0755);
  return dir;
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// An environment with nothing configured and nothing on the host.
Environment Empty(const std::string& name) {
  const std::string dir = TempDir(name);
  Environment env;
  env.config_home = dir + "/config";
  env.data_dir = dir + "/data";
  env.discover = [] { return std::vector<std::string>{}; };
  return env;
}

TEST(Resolve, SpecsNameThemselves) {
  const Environment env = Empty("specs");
  for (const char* spec : {"model:testdata/units/tiny.json", "model:a.json:b.sef", "/dev/nvme7"}) {
    absl::StatusOr<ResolvedUnit> r = Resolve(spec, env);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->spec, spec);
    EXPECT_EQ(r->source, Source::kSpec);
  }
}

TEST(Resolve, MalformedNamesAreRefusedByName) {
  const Environment env = Empty("malformed");
  for (const char* name : {"", "abc", "-1", "1x", "0:3", " 1", "99999999999"}) {
    absl::StatusOr<ResolvedUnit> r = Resolve(name, env);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(r.status().message(),
                AllOf(HasSubstr(std::string("unit '") + name + "'"), HasSubstr("model:")));
  }
}

TEST(Resolve, UnitZeroWithNothingConfiguredIsTheEmbeddedDefault) {
  const Environment env = Empty("default");
  absl::StatusOr<ResolvedUnit> r = Resolve("0", env);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source, Source::kEmbeddedDefault);
  EXPECT_EQ(r->spec, "model:" + env.data_dir + "/unit0.json:" + env.data_dir + "/unit0.sef");
  EXPECT_THAT(r->description, HasSubstr("embedded default"));
  // Nothing is written by Resolve.
  EXPECT_NE(access(env.data_dir.c_str(), F_OK), 0);
}

TEST(Resolve, OtherNumbersWithNothingConfiguredAreNotFound) {
  const Environment env = Empty("nothing");
  absl::StatusOr<ResolvedUnit> r = Resolve("1", env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(),
              AllOf(HasSubstr("unit 1: no such SEF unit"), HasSubstr("no units file"),
                    HasSubstr("no SEF unit found on the host")));
}

TEST(Resolve, UnitsFileFirstThenHostUnitsInFreeNumbers) {
  Environment env = Empty("file");
  env.units_file = TempDir("file") + "/units.json";
  WriteFile(env.units_file, R"({"units": {"0": "model:/x/a.json:/x/a.sef", "2": "/dev/nvme9"}})");
  env.discover = [] { return std::vector<std::string>{"/dev/nvme1", "/dev/nvme4", "/dev/nvme9"}; };
  auto spec_of = [&](const char* n) {
    absl::StatusOr<ResolvedUnit> r = Resolve(n, env);
    return r.ok() ? r->spec : std::string(r.status().message());
  };
  EXPECT_EQ(spec_of("0"), "model:/x/a.json:/x/a.sef");
  EXPECT_EQ(spec_of("1"), "/dev/nvme1");
  EXPECT_EQ(spec_of("2"), "/dev/nvme9");  // named by the file, not numbered again
  EXPECT_EQ(spec_of("3"), "/dev/nvme4");
  EXPECT_EQ(Resolve("2", env)->source, Source::kUnitsFile);
  EXPECT_EQ(Resolve("3", env)->source, Source::kHost);
  EXPECT_THAT(Resolve("2", env)->description, HasSubstr(env.units_file));
  absl::StatusOr<ResolvedUnit> missing = Resolve("4", env);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(),
              AllOf(HasSubstr("unit 4"), HasSubstr(env.units_file), HasSubstr("0, 2"),
                    HasSubstr("/dev/nvme1 as unit 1"), HasSubstr("/dev/nvme4 as unit 3")));
}

TEST(Resolve, HostUnitTakesUnitZeroBeforeTheEmbeddedDefault) {
  Environment env = Empty("host0");
  env.discover = [] { return std::vector<std::string>{"/dev/nvme2"}; };
  EXPECT_EQ(Resolve("0", env)->spec, "/dev/nvme2");
  EXPECT_EQ(Resolve("0", env)->source, Source::kHost);
}

TEST(Resolve, DiscoveryOffInTheFileIsNotAsked) {
  Environment env = Empty("nodiscover");
  env.units_file = TempDir("nodiscover") + "/units.json";
  WriteFile(env.units_file, R"({"discover": false})");
  int asked = 0;
  env.discover = [&] {
    ++asked;
    return std::vector<std::string>{"/dev/nvme0"};
  };
  EXPECT_EQ(Resolve("0", env)->source, Source::kEmbeddedDefault);
  EXPECT_THAT(Resolve("1", env).status().message(), HasSubstr("host discovery is off"));
  EXPECT_EQ(asked, 0);
}

TEST(Resolve, UnitsFileInTheConfigHome) {
  Environment env = Empty("confighome");
  mkdir((env.config_home).c_str(), 0755);
  mkdir((env.config_home + "/sef").c_str(), 0755);
  WriteFile(env.config_home + "/sef/units.json", R"({"units": {"5": "/dev/nvme3"}})");
  absl::StatusOr<ResolvedUnit> r = Resolve("5", env);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->spec, "/dev/nvme3");
  EXPECT_THAT(r->description, HasSubstr(env.config_home + "/sef/units.json"));
}

TEST(Resolve, BadUnitsFilesAreRefusedNamingTheFileAndTheProblem) {
  Environment env = Empty("badfile");
  env.units_file = TempDir("badfile") + "/units.json";
  const std::pair<const char*, const char*> cases[] = {
      {"{", "not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"unit": {}})", "unknown key \"unit\""},
      {R"({"units": {"a": "/dev/nvme0"}})", "unit \"a\" is not a number"},
      {R"({"units": {"1": "disk.img"}})", "unit 1: \"disk.img\" is not a SEF unit spec"},
      {R"({"units": {"1": 7}})", "unit 1: 7 is not a SEF unit spec"},
      {R"({"discover": "yes"})", "\"discover\" must be true or false"},
      {R"({"provision": "1"})", "\"provision\" must be an array of unit numbers"},
      {R"({"units": {"1": "/dev/nvme0"}, "provision": [1]})",
       "\"provision\": 1 is not a unit number"},
      {R"({"units": {"1": "/dev/nvme0"}, "provision": ["2"]})",
       "\"provision\" names unit 2, which \"units\" does not name"},
  };
  for (const auto& [text, want] : cases) {
    WriteFile(env.units_file, text);
    absl::StatusOr<ResolvedUnit> r = Resolve("0", env);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(r.status().message(), AllOf(HasSubstr(env.units_file), HasSubstr(want))) << text;
  }
  env.units_file = TempDir("badfile") + "/missing.json";
  absl::StatusOr<ResolvedUnit> r = Resolve("0", env);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), AllOf(HasSubstr("missing.json"), HasSubstr("SEF_UNITS_FILE"),
                                          HasSubstr("does not exist")));
}

TEST(Resolve, DataDirectoryWithAColonIsRefused) {
  Environment env = Empty("colon");
  env.data_dir = "/tmp/a:b";
  absl::StatusOr<ResolvedUnit> r = Resolve("0", env);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), AllOf(HasSubstr("/tmp/a:b"), HasSubstr("SEF_DATA_DIR")));
}

TEST(EmbeddedDefault, IsTestdataDefaultJson) {
  const std::string file = ReadFile("testdata/units/default.json");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(EmbeddedDefaultConfig(), file);
}

TEST(Open, ProvisionsTheEmbeddedDefaultUnitOnFirstUseOnly) {
  const Environment env = Empty("open");
  {
    absl::StatusOr<std::unique_ptr<hal::Unit>> unit = Open("0", env);
    ASSERT_TRUE(unit.ok()) << unit.status();
    EXPECT_EQ(ReadFile(env.data_dir + "/unit0.json"), EmbeddedDefaultConfig());
    absl::StatusOr<hal::UnitInfo> info = (*unit)->Info();
    ASSERT_TRUE(info.ok());
    absl::StatusOr<std::vector<VirtualDeviceId>> vds = (*unit)->ListVirtualDevices();
    ASSERT_TRUE(vds.ok());
    ASSERT_EQ(vds->size(), 1u);
    absl::StatusOr<hal::VirtualDeviceInfo> vd = (*unit)->GetVirtualDeviceInfo((*vds)[0]);
    ASSERT_TRUE(vd.ok());
    EXPECT_EQ(vd->dies.size(), info->dies());
    EXPECT_EQ(vd->dies_per_super_block, kDefaultDiesPerSuperBlock);
    absl::StatusOr<std::vector<QosDomainId>> domains = (*unit)->ListQosDomains();
    ASSERT_TRUE(domains.ok());
    ASSERT_EQ(domains->size(), kDefaultQosDomains);
    uint64_t total = 0;
    for (uint32_t i = 0; i < kDefaultQosDomains; ++i) {
      EXPECT_EQ((*domains)[i], QosDomainId(i + 1));
      absl::StatusOr<hal::QosDomainInfo> d = (*unit)->GetQosDomainInfo((*domains)[i]);
      ASSERT_TRUE(d.ok());
      EXPECT_EQ(d->capacity_adus, vd->capacity_adus / kDefaultQosDomains);
      EXPECT_EQ(d->capacity_adus % vd->super_block_adus, 0u);
      total += d->capacity_adus;
    }
    EXPECT_LE(total, vd->capacity_adus);

    // The backing file is locked: a second opener is refused, naming the unit.
    absl::StatusOr<std::unique_ptr<hal::Unit>> second = Open("0", env);
    ASSERT_FALSE(second.ok());
    EXPECT_THAT(second.status().message(),
                AllOf(HasSubstr("unit 0 (the embedded default unit"), HasSubstr("unit0.sef")));
    // Something the user does to the unit stays: a domain deleted ...
    ASSERT_TRUE((*unit)->DeleteQosDomain(QosDomainId(4)).ok());
  }
  // ... is recreated (provisioning adds what is missing), the others are untouched.
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = Open("0", env);
  ASSERT_TRUE(unit.ok()) << unit.status();
  EXPECT_EQ((*unit)->ListVirtualDevices()->size(), 1u);
  EXPECT_EQ((*unit)->ListQosDomains()->size(), kDefaultQosDomains);
}

TEST(Open, RewritesAChangedConfigCopy) {
  const Environment env = Empty("rewrite");
  mkdir(env.data_dir.c_str(), 0755);
  WriteFile(env.data_dir + "/unit0.json", "{}");
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = Open("0", env);
  ASSERT_TRUE(unit.ok()) << unit.status();
  EXPECT_EQ(ReadFile(env.data_dir + "/unit0.json"), EmbeddedDefaultConfig());
}

TEST(Open, OtherUnitsAreNotProvisioned) {
  Environment env = Empty("noprov");
  env.units_file = TempDir("noprov") + "/units.json";
  WriteFile(env.units_file, R"({"units": {"1": "model:testdata/units/tiny.json"}})");
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = Open("1", env);
  ASSERT_TRUE(unit.ok()) << unit.status();
  EXPECT_TRUE((*unit)->ListVirtualDevices()->empty());
}

TEST(Open, UnitsTheFileListsInProvisionGetTheDefaultLayout) {
  Environment env = Empty("prov");
  env.units_file = TempDir("prov") + "/units.json";
  WriteFile(
      env.units_file,
      R"({"units": {"1": "model:testdata/units/default.json", "2": "model:testdata/units/default.json"},
                "provision": ["1"]})");
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = Open("1", env);
  ASSERT_TRUE(unit.ok()) << unit.status();
  EXPECT_EQ((*unit)->ListVirtualDevices()->size(), 1u);
  EXPECT_EQ((*unit)->ListQosDomains()->size(), kDefaultQosDomains);
  absl::StatusOr<std::unique_ptr<hal::Unit>> other = Open("2", env);  // a second RAM unit
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_TRUE((*other)->ListVirtualDevices()->empty());
}

TEST(Open, ErrorsSayHowTheUnitWasFound) {
  Environment env = Empty("openerr");
  env.units_file = TempDir("openerr") + "/units.json";
  WriteFile(env.units_file, R"({"units": {"1": "model:/nonexistent/x.json"}})");
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = Open("1", env);
  ASSERT_FALSE(unit.ok());
  EXPECT_THAT(unit.status().message(),
              AllOf(HasSubstr("unit 1 (from " + env.units_file), HasSubstr("/nonexistent/x.json")));
}

}  // namespace
}  // namespace sef::units
