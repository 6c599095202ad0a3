// sef_hal_io: writes a deterministic pattern to a SEF unit through the HAL and reads it back,
// e.g. to check that data outlives a process or a VM run.
//
//   sef_hal_io model:testdata/units/tiny.json:/tmp/u.sef setup --domain-capacity-adus 512
//   sef_hal_io /dev/nvme0 write --domain 1 --lba 100 --adus 8 --seed 7 >w.json
//   sef_hal_io /dev/nvme0 verify --from-json w.json
//
//   sef_hal_io /dev/nvme0 write --ftl --domain 2 --lba 0 --adus 64 --seed 3 >f.json
//   sef_hal_io /dev/nvme0 verify --from-json f.json
//
// ADU i of a write has user address (LBA L+i, tag 0x10); its 512 data words and 2 metadata
// words are hashes of (seed, LBA, word index), so a reader needs only the seed, the LBA and
// the flash address. With --ftl the blocks go through the block FTL (sef/ftl) of a domain
// that `sef-cli configure ftl` formatted: block L+i holds the data words of LBA L+i, and a
// reader needs only the seed and the LBA. Output is one JSON document on stdout.
//
//   sef_hal_io /dev/nvme0 bench-read --domain 1 --adus 4096 --qd 32 --seconds 10
//
// bench-read measures 4 KiB reads through the HAL (on /dev/nvmeN: io_uring uring_cmd on the
// domain's /dev/ngXnY, the kernel backend's default): it writes --adus ADUs once, then keeps
// --qd reads of random ones of them in flight for --seconds and prints IOPS and MiB/s
// (tools/bench/devices.sh puts it next to fio's io_uring_cmd engine on a stock namespace).
// --form: "sync" (the default at QD 1) calls the synchronous QosDomain::Read in a loop, as a
// program with one read in flight does (the kernel backend then reaps on the calling thread,
// as fio does); "chained" (the default at QD > 1) starts Q ReadAsync calls and each callback
// starts the next read itself, as fio's loop submits from the thread that reaps (on the
// kernel backend that is the completion thread); "async" submits every read from the
// calling thread, which waits for a callback to free a slot.
//
// Exit status: 0 on success, 1 when the unit cannot be opened, a command fails or the data
// does not match (one line on stderr), 2 on a usage error.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "sef/base/mutex.h"
#include "sef/ftl/ftl.h"
#include "sef/hal/hal.h"

namespace sef::tools {
namespace {

using nlohmann::json;

constexpr char kUsage[] =
    "usage: sef_hal_io <unit> <command> [options]\n"
    "  <unit>: /dev/nvmeN or model:<config.json>[:<backing file>]\n"
    "\n"
    "commands:\n"
    "  setup --domain-capacity-adus N [--new] [--reset]\n"
    "      creates virtual device 1 over all dies if the unit has no virtual device, and a QoS\n"
    "      domain of N ADUs (placement ids 1) in the first virtual device if it has no QoS\n"
    "      domain (always with --new); prints {\"domain\":D,\"virtual_device\":V,\"created\":B}.\n"
    "      --reset first deletes every QoS domain and virtual device (and so all data)\n"
    "  write --domain D --lba L --adus N [--placement P] [--seed S] [--no-flush]\n"
    "      writes N ADUs by placement id P (default 0) with user addresses LBA L+i, tag 0x10,\n"
    "      data and metadata a pattern of (S, LBA) (S default 0), then flushes the super\n"
    "      blocks written (unless --no-flush); prints\n"
    "      {\"domain\":D,\"lba\":L,\"adus\":N,\"seed\":S,\"placement\":P,\"addresses\":[...]}\n"
    "  verify --from-json FILE | --domain D --lba L [--seed S] --address A... [--adus N]\n"
    "      reads each ADU with user-address verify and metadata and compares it with the\n"
    "      pattern. --from-json takes a write's output; options given with it override the\n"
    "      file's. --address repeats (ADU i at the i-th); one --address with --adus N reads\n"
    "      A, A+1, ..., A+N-1. Prints {\"verified\":V,\"mismatches\":M,\"errors\":E,...}\n"
    "  write --ftl --domain D --lba L --adus N [--seed S] [--no-unmount]\n"
    "      through the block FTL of domain D (formatted by sef-cli configure ftl; never\n"
    "      formatted here): mounts it (recovering it if needed), writes blocks L..L+N-1 with the\n"
    "      pattern's data words, flushes and unmounts (--no-unmount: stops after the flush\n"
    "      without the final checkpoint, as a crash would, so that the next mount replays);\n"
    "      prints {\"domain\":D,\"lba\":L,\"adus\":N,\"seed\":S,\"ftl\":true,...}\n"
    "  verify --ftl --domain D --lba L --adus N [--seed S] | --from-json FILE\n"
    "      mounts the FTL, reads blocks L..L+N-1, compares them with the pattern, unmounts\n"
    "      (a write --ftl's output says --ftl itself)\n"
    "\n"
    "  bench-read --domain D --adus N --seconds S [--qd Q] [--seed S] [--form F]\n"
    "      writes N ADUs by placement id 0 (flushed), then keeps Q (default 1) 4 KiB reads of\n"
    "      uniformly random ones of them in flight for S seconds; prints\n"
    "      {\"reads\":R,\"errors\":0,\"seconds\":T,\"iops\":I,\"mib_s\":M,\"qd\":Q,...}\n"
    "      F: sync (Read in a loop; only at Q 1, its default), chained (each callback\n"
    "      starts the next ReadAsync; the default at Q > 1) or async (the calling thread\n"
    "      starts every ReadAsync and waits for a callback to free a slot)\n"
    "\n"
    "options: --force-ioctl (kernel backend: ioctl instead of io_uring for I/O), -h/--help\n"
    "exit status: 0 success; 1 unit or device error, or data mismatch (one line on stderr);\n"
    "2 usage error\n";

constexpr uint32_t kTag = 0x10;
constexpr uint32_t kDataWords = wire::kAduDataBytes / 8;
constexpr uint32_t kMetaWords = wire::kAduMetaBytes / 8;

// --- the pattern ---------------------------------------------------------------------------------

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Word `index` of the ADU at `lba`: data words are 0..511, metadata words 512..513.
uint64_t PatternWord(uint64_t seed, uint64_t lba, uint64_t index) {
  uint64_t h = Mix(seed ^ 0x5EF0DA7A5EF0DA7Aull);
  h = Mix(h ^ (lba + 0x9E3779B97F4A7C15ull));
  return Mix(h ^ (index * 0x9E3779B97F4A7C15ull + 1));
}

void FillAdu(uint64_t seed, uint64_t lba, uint8_t* data, uint8_t* meta) {
  for (uint32_t w = 0; w < kDataWords; ++w) {
    const uint64_t v = PatternWord(seed, lba, w);
    std::memcpy(data + 8 * w, &v, 8);
  }
  for (uint32_t w = 0; w < kMetaWords; ++w) {
    const uint64_t v = PatternWord(seed, lba, kDataWords + w);
    std::memcpy(meta + 8 * w, &v, 8);
  }
}

std::string Hex(uint64_t v) { return absl::StrFormat("0x%016x", v); }

// --- arguments -----------------------------------------------------------------------------------

struct UsageError {
  std::string message;
};

std::optional<uint64_t> ParseU64(const std::string& s) {
  const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  const char* begin = s.data() + (hex ? 2 : 0);
  const char* end = s.data() + s.size();
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(begin, end, v, hex ? 16 : 10);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return v;
}

struct Args {
  std::string spec, command;
  bool force_ioctl = false;
  // Options of the command, by name without "--"; repeated ones keep every value.
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> flags;

  bool has(const std::string& name) const { return values.count(name) != 0; }
  std::optional<uint64_t> Number(const std::string& name, uint64_t max) const {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    if (it->second.size() != 1) throw UsageError{"--" + name + " given more than once"};
    std::optional<uint64_t> v = ParseU64(it->second[0]);
    if (!v || *v > max) {
      throw UsageError{
          absl::StrFormat("--%s: '%s' is not a number in 0..%u", name, it->second[0], max)};
    }
    return v;
  }
  uint64_t Required(const std::string& name, uint64_t max) const {
    std::optional<uint64_t> v = Number(name, max);
    if (!v) throw UsageError{command + " needs --" + name};
    return *v;
  }
};

// Options each command takes: true = with a value.
const std::map<std::string, std::map<std::string, bool>> kCommands = {
    {"setup", {{"domain-capacity-adus", true}, {"new", false}, {"reset", false}}},
    {"write",
     {{"domain", true},
      {"lba", true},
      {"adus", true},
      {"placement", true},
      {"seed", true},
      {"no-flush", false},
      {"ftl", false},
      {"no-unmount", false}}},
    {"verify",
     {{"domain", true},
      {"lba", true},
      {"adus", true},
      {"seed", true},
      {"address", true},
      {"from-json", true},
      {"ftl", false}}},
    {"bench-read",
     {{"domain", true},
      {"adus", true},
      {"seconds", true},
      {"qd", true},
      {"seed", true},
      {"form", true}}},
};

Args Parse(int argc, char** argv) {
  Args a;
  const std::map<std::string, bool>* options = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--force-ioctl") {
      a.force_ioctl = true;
    } else if (arg.size() > 2 && arg.rfind("--", 0) == 0 && options != nullptr) {
      std::string name = arg.substr(2), value;
      const size_t eq = name.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) {
        value = name.substr(eq + 1);
        name.resize(eq);
      }
      auto it = options->find(name);
      if (it == options->end()) throw UsageError{"unknown option '" + arg + "' for " + a.command};
      if (!it->second) {
        if (inline_value) throw UsageError{"--" + name + " takes no value"};
        a.flags.insert(name);
        continue;
      }
      if (!inline_value) {
        if (i + 1 >= argc) throw UsageError{"--" + name + " needs a value"};
        value = argv[++i];
      }
      a.values[name].push_back(value);
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError{"unknown option '" + arg + "'"};
    } else if (a.spec.empty()) {
      a.spec = arg;
    } else if (a.command.empty()) {
      auto it = kCommands.find(arg);
      if (it == kCommands.end()) throw UsageError{"unknown command '" + arg + "'"};
      a.command = arg;
      options = &it->second;
    } else {
      throw UsageError{"unexpected argument '" + arg + "'"};
    }
  }
  if (a.spec.empty() || a.command.empty()) throw UsageError{"a unit and a command are needed"};
  return a;
}

// A failure that ends the tool with exit status 1 and this one line.
struct Failure {
  std::string message;
};

template <typename T>
T OrFail(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) throw Failure{what + ": " + v.status().ToString()};
  return *std::move(v);
}
void OrFail(const absl::Status& s, const std::string& what) {
  if (!s.ok()) throw Failure{what + ": " + s.ToString()};
}

// --- commands ------------------------------------------------------------------------------------

json Setup(hal::Unit& unit, const Args& a) {
  const uint64_t capacity = a.Required("domain-capacity-adus", UINT64_MAX);
  if (a.flags.count("reset")) {
    for (QosDomainId d : OrFail(unit.ListQosDomains(), "list QoS domains")) {
      OrFail(unit.DeleteQosDomain(d), absl::StrFormat("delete QoS domain %u", d.value()));
    }
    OrFail(unit.DeleteVirtualDevices(), "delete the virtual devices");
  }
  std::vector<VirtualDeviceId> vds = OrFail(unit.ListVirtualDevices(), "list virtual devices");
  bool created = false;
  if (vds.empty()) {
    hal::UnitInfo info = OrFail(unit.Info(), "unit information");
    hal::VirtualDeviceConfig vd{.id = VirtualDeviceId(1)};
    for (uint32_t die = 0; die < info.dies(); ++die) vd.dies.push_back(static_cast<uint16_t>(die));
    OrFail(unit.CreateVirtualDevices({vd}), "create virtual device 1");
    vds = {vd.id};
  }
  std::vector<QosDomainId> domains = OrFail(unit.ListQosDomains(), "list QoS domains");
  QosDomainId domain;
  if (domains.empty() || a.flags.count("new")) {
    domain = OrFail(unit.CreateQosDomain({.vd = vds[0], .capacity_adus = capacity}),
                    absl::StrFormat("create a QoS domain of %u ADUs in virtual device %u", capacity,
                                    vds[0].value()));
    created = true;
  } else {
    domain = domains[0];
  }
  hal::QosDomainInfo info = OrFail(unit.GetQosDomainInfo(domain),
                                   absl::StrFormat("QoS domain %u information", domain.value()));
  return {{"domain", domain.value()},
          {"virtual_device", info.vd.value()},
          {"capacity_adus", info.capacity_adus},
          {"created", created}};
}

json Write(hal::Unit& unit, const Args& a) {
  const uint64_t domain_id = a.Required("domain", 0xFFFF);
  const uint64_t lba = a.Required("lba", UserAddress::kMaxLba);
  const uint64_t adus = a.Required("adus", 0xFFFFFFFF);
  const uint64_t placement = a.Number("placement", 0xFFFF).value_or(0);
  const uint64_t seed = a.Number("seed", UINT64_MAX).value_or(0);
  if (adus == 0) throw UsageError{"--adus must be at least 1"};
  if (lba + adus - 1 > UserAddress::kMaxLba) throw UsageError{"--lba + --adus exceed 2^40"};

  std::unique_ptr<hal::QosDomain> domain =
      OrFail(unit.OpenQosDomain(QosDomainId(static_cast<uint16_t>(domain_id))),
             absl::StrFormat("open QoS domain %u", domain_id));
  std::vector<uint8_t> data(adus * wire::kAduDataBytes), meta(adus * wire::kAduMetaBytes);
  for (uint64_t i = 0; i < adus; ++i) {
    FillAdu(seed, lba + i, &data[i * wire::kAduDataBytes], &meta[i * wire::kAduMetaBytes]);
  }
  const UserAddress start = OrFail(UserAddress::Make(Lba(lba), kTag), "user address");
  iovec iov{data.data(), data.size()};
  const std::string what = absl::StrFormat("write LBA %u..%u to QoS domain %u placement id %u", lba,
                                           lba + adus - 1, domain_id, placement);
  hal::WriteResult r = OrFail(
      domain->Write({.target = hal::ByPlacement{PlacementId(static_cast<uint16_t>(placement))},
                     .start = start,
                     .data = {&iov, 1},
                     .metadata = meta}),
      what);
  if (r.addresses.size() != adus) {
    throw Failure{
        absl::StrFormat("%s: %u addresses returned for %u ADUs", what, r.addresses.size(), adus)};
  }
  json addresses = json::array();
  std::set<SuperBlockId> super_blocks;  // each SB written
  for (FlashAddress f : r.addresses) {
    addresses.push_back(Hex(f.raw()));
    super_blocks.insert(domain->SuperBlockOf(f));
  }
  if (!a.flags.count("no-flush")) {
    for (SuperBlockId sb : super_blocks) {
      OrFail(domain->FlushSuperBlock(sb).status(),
             absl::StrFormat("flush super block %u", sb.value()));
    }
  }
  return {{"domain", domain_id},    {"lba", lba},
          {"adus", adus},           {"seed", seed},
          {"placement", placement}, {"flushed", !a.flags.count("no-flush")},
          {"addresses", addresses}};
}

// verify's inputs: the options, or a write's JSON output that they override.
struct VerifyPlan {
  uint64_t domain = 0, lba = 0, seed = 0;
  std::vector<uint64_t> addresses;
  bool ftl = false;  // through the block FTL: blocks lba .. lba + blocks - 1
  uint64_t blocks = 0;
};

VerifyPlan PlanVerify(const Args& a) {
  VerifyPlan p;
  bool have_domain = false, have_lba = false;
  if (a.has("from-json")) {
    const std::string file = a.values.at("from-json").back();
    std::ifstream in(file);
    if (!in) throw UsageError{"--from-json: cannot open " + file};
    json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
    try {
      if (j.is_discarded()) throw UsageError{"--from-json: " + file + " is not JSON"};
      p.domain = j.at("domain").get<uint64_t>();
      p.lba = j.at("lba").get<uint64_t>();
      p.seed = j.value("seed", uint64_t{0});
      p.ftl = j.value("ftl", false);
      p.blocks = j.value("adus", uint64_t{0});
      for (const json& s : j.value("addresses", json::array())) {
        std::optional<uint64_t> v = ParseU64(s.get<std::string>());
        if (!v) throw UsageError{"--from-json: bad address " + s.dump() + " in " + file};
        p.addresses.push_back(*v);
      }
      have_domain = have_lba = true;
    } catch (const json::exception& e) {
      throw UsageError{"--from-json: " + file + ": " + e.what()};
    }
  }
  if (std::optional<uint64_t> v = a.Number("domain", 0xFFFF)) {
    p.domain = *v;
    have_domain = true;
  }
  if (std::optional<uint64_t> v = a.Number("lba", UserAddress::kMaxLba)) {
    p.lba = *v;
    have_lba = true;
  }
  if (std::optional<uint64_t> v = a.Number("seed", UINT64_MAX)) p.seed = *v;
  if (a.has("address")) {
    p.addresses.clear();
    for (const std::string& s : a.values.at("address")) {
      std::optional<uint64_t> v = ParseU64(s);
      if (!v) throw UsageError{"--address: '" + s + "' is not a flash address"};
      p.addresses.push_back(*v);
    }
  }
  if (a.flags.count("ftl")) p.ftl = true;
  if (p.ftl) {
    if (a.has("address")) throw UsageError{"--address does not apply with --ftl"};
    if (auto n = a.Number("adus", 0xFFFFFFFF)) p.blocks = *n;
    if (!have_domain) throw UsageError{"verify needs --domain or --from-json"};
    if (!have_lba) throw UsageError{"verify needs --lba or --from-json"};
    if (p.blocks == 0) throw UsageError{"verify --ftl needs --adus N (at least 1) or --from-json"};
    return p;
  }
  if (auto n = a.Number("adus", 0xFFFFFFFF)) {
    if (p.addresses.size() == 1) {
      for (uint64_t i = 1; i < *n; ++i) p.addresses.push_back(p.addresses[0] + i);
    } else if (*n != p.addresses.size()) {
      throw UsageError{absl::StrFormat("--adus %u but %u addresses", *n, p.addresses.size())};
    }
  }
  if (!have_domain) throw UsageError{"verify needs --domain or --from-json"};
  if (!have_lba) throw UsageError{"verify needs --lba or --from-json"};
  if (p.addresses.empty()) throw UsageError{"verify needs --address or --from-json"};
  if (p.lba + p.addresses.size() - 1 > UserAddress::kMaxLba) {
    throw UsageError{"the LBAs exceed 2^40"};
  }
  return p;
}

// Returns the JSON and, when something did not match, the line for stderr.
json Verify(hal::Unit& unit, const VerifyPlan& p, std::string* problem) {
  std::unique_ptr<hal::QosDomain> domain =
      OrFail(unit.OpenQosDomain(QosDomainId(static_cast<uint16_t>(p.domain))),
             absl::StrFormat("open QoS domain %u", p.domain));
  std::vector<uint8_t> data(wire::kAduDataBytes), meta(wire::kAduMetaBytes);
  std::vector<uint8_t> want_data(wire::kAduDataBytes), want_meta(wire::kAduMetaBytes);
  iovec iov{data.data(), data.size()};
  uint64_t verified = 0, mismatches = 0, errors = 0;
  json failures = json::array();
  for (size_t i = 0; i < p.addresses.size(); ++i) {
    const uint64_t lba = p.lba + i;
    const FlashAddress address = FlashAddress::FromRaw(p.addresses[i]);
    const UserAddress ua = OrFail(UserAddress::Make(Lba(lba), kTag), "user address");
    std::string failure;
    absl::Status s =
        domain->Read({.address = address, .verify = ua, .data = {&iov, 1}, .metadata = meta});
    if (!s.ok()) {
      ++errors;
      failure = "read failed: " + s.ToString();
    } else {
      FillAdu(p.seed, lba, want_data.data(), want_meta.data());
      const bool data_ok = data == want_data, meta_ok = meta == want_meta;
      if (data_ok && meta_ok) {
        ++verified;
        continue;
      }
      ++mismatches;
      const std::vector<uint8_t>& got = data_ok ? meta : data;
      const std::vector<uint8_t>& want = data_ok ? want_meta : want_data;
      size_t w = 0;
      while (std::memcmp(&got[8 * w], &want[8 * w], 8) == 0) ++w;
      uint64_t g = 0, e = 0;
      std::memcpy(&g, &got[8 * w], 8);
      std::memcpy(&e, &want[8 * w], 8);
      failure = absl::StrFormat(
          "%s differs from seed %u's pattern at word %u (got 0x%016x, want 0x%016x)",
          data_ok ? "metadata" : "data", p.seed, w, g, e);
    }
    failures.push_back({{"lba", lba}, {"address", Hex(address.raw())}, {"problem", failure}});
    if (problem->empty()) {
      *problem = absl::StrFormat("QoS domain %u LBA %u at %s: %s", p.domain, lba,
                                 Hex(address.raw()), failure);
    }
  }
  if (!problem->empty()) {
    *problem += absl::StrFormat(" (%u of %u ADUs failed)", mismatches + errors, p.addresses.size());
  }
  return {{"domain", p.domain}, {"lba", p.lba},         {"adus", p.addresses.size()},
          {"seed", p.seed},     {"verified", verified}, {"mismatches", mismatches},
          {"errors", errors},   {"failures", failures}};
}

// --- through the block FTL (--ftl) --------------------------------------------------------------

constexpr uint32_t kFtlChunk = 256;  // blocks per FTL request

std::unique_ptr<ftl::BlockDevice> MountFtl(hal::Unit& unit, uint64_t domain) {
  return OrFail(ftl::BlockDevice::Mount(&unit, QosDomainId(static_cast<uint16_t>(domain))),
                absl::StrFormat("mount the block FTL of QoS domain %u", domain));
}

json FtlWrite(hal::Unit& unit, const Args& a) {
  const uint64_t domain_id = a.Required("domain", 0xFFFF);
  const uint64_t lba = a.Required("lba", UserAddress::kMaxLba);
  const uint64_t adus = a.Required("adus", 0xFFFFFFFF);
  const uint64_t seed = a.Number("seed", UINT64_MAX).value_or(0);
  if (adus == 0) throw UsageError{"--adus must be at least 1"};
  if (a.has("placement") || a.flags.count("no-flush")) {
    throw UsageError{"--placement and --no-flush do not apply with --ftl (see --no-unmount)"};
  }
  std::unique_ptr<ftl::BlockDevice> disk = MountFtl(unit, domain_id);
  std::vector<uint8_t> data(size_t{kFtlChunk} * ftl::kBlockSize), meta(wire::kAduMetaBytes);
  for (uint64_t done = 0; done < adus;) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kFtlChunk, adus - done));
    for (uint32_t i = 0; i < n; ++i) {
      FillAdu(seed, lba + done + i, &data[size_t{i} * ftl::kBlockSize], meta.data());
    }
    iovec iov{data.data(), size_t{n} * ftl::kBlockSize};
    OrFail(disk->Write(Lba(lba + done), n, {&iov, 1}),
           absl::StrFormat("write blocks %u..%u through the FTL of QoS domain %u", lba + done,
                           lba + done + n - 1, domain_id));
    done += n;
  }
  OrFail(disk->Flush(), absl::StrFormat("flush the FTL of QoS domain %u", domain_id));
  const bool unmount = !a.flags.count("no-unmount");
  if (unmount) OrFail(disk->Unmount(), absl::StrFormat("unmount QoS domain %u", domain_id));
  return {{"domain", domain_id},  {"lba", lba},
          {"adus", adus},         {"seed", seed},
          {"ftl", true},          {"flushed", true},
          {"unmounted", unmount}, {"block_count", disk->block_count()}};
}

json FtlVerify(hal::Unit& unit, const VerifyPlan& p, std::string* problem) {
  std::unique_ptr<ftl::BlockDevice> disk = MountFtl(unit, p.domain);
  std::vector<uint8_t> data(size_t{kFtlChunk} * ftl::kBlockSize);
  std::vector<uint8_t> want(ftl::kBlockSize), meta(wire::kAduMetaBytes);
  uint64_t verified = 0, mismatches = 0, errors = 0;
  json failures = json::array();
  auto failed = [&](uint64_t lba, const std::string& failure) {
    failures.push_back({{"lba", lba}, {"problem", failure}});
    if (problem->empty()) {
      *problem = absl::StrFormat("QoS domain %u block %u (FTL): %s", p.domain, lba, failure);
    }
  };
  for (uint64_t done = 0; done < p.blocks;) {
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kFtlChunk, p.blocks - done));
    iovec iov{data.data(), size_t{n} * ftl::kBlockSize};
    absl::Status s = disk->Read(Lba(p.lba + done), n, {&iov, 1});
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t lba = p.lba + done + i;
      if (!s.ok()) {
        ++errors;
        failed(lba, "read failed: " + s.ToString());
        continue;
      }
      FillAdu(p.seed, lba, want.data(), meta.data());
      const uint8_t* got = &data[size_t{i} * ftl::kBlockSize];
      if (std::memcmp(got, want.data(), ftl::kBlockSize) == 0) {
        ++verified;
        continue;
      }
      ++mismatches;
      size_t w = 0;
      while (std::memcmp(got + 8 * w, &want[8 * w], 8) == 0) ++w;
      uint64_t g = 0, e = 0;
      std::memcpy(&g, got + 8 * w, 8);
      std::memcpy(&e, &want[8 * w], 8);
      failed(lba, absl::StrFormat("data differs from seed %u's pattern at word %u (got 0x%016x, "
                                  "want 0x%016x)",
                                  p.seed, w, g, e));
    }
    done += n;
  }
  OrFail(disk->Unmount(), absl::StrFormat("unmount QoS domain %u", p.domain));
  if (!problem->empty()) {
    *problem += absl::StrFormat(" (%u of %u blocks failed)", mismatches + errors, p.blocks);
  }
  return {{"domain", p.domain},       {"lba", p.lba},     {"adus", p.blocks},
          {"seed", p.seed},           {"ftl", true},      {"verified", verified},
          {"mismatches", mismatches}, {"errors", errors}, {"failures", failures}};
}

// bench-read's shared state: the free read buffers and the counts, updated by completions
// (which run on the submitting thread or a backend thread).
struct ReadBench {
  Mutex mu;
  CondVar freed;
  uint64_t x ABSL_GUARDED_BY(mu) = 0;  // the random address sequence's state
  std::vector<uint32_t> free_slots ABSL_GUARDED_BY(mu);
  uint64_t reads ABSL_GUARDED_BY(mu) = 0;
  uint64_t errors ABSL_GUARDED_BY(mu) = 0;
  std::string first_error ABSL_GUARDED_BY(mu);
};

json BenchRead(hal::Unit& unit, const Args& a) {
  const uint64_t domain_id = a.Required("domain", 0xFFFF);
  const uint64_t adus = a.Required("adus", 1u << 24);
  const uint64_t seconds = a.Required("seconds", 3600);
  const uint64_t qd = a.Number("qd", 1024).value_or(1);
  const uint64_t seed = a.Number("seed", UINT64_MAX).value_or(0);
  if (adus == 0 || seconds == 0 || qd == 0) {
    throw UsageError{"--adus, --seconds and --qd must be at least 1"};
  }
  std::string form = qd == 1 ? "sync" : "chained";
  if (auto it = a.values.find("form"); it != a.values.end()) {
    if (it->second.size() != 1) throw UsageError{"--form given more than once"};
    form = it->second[0];
  }
  if (form != "sync" && form != "chained" && form != "async") {
    throw UsageError{"--form must be sync, chained or async, not '" + form + "'"};
  }
  if (form == "sync" && qd != 1) throw UsageError{"--form sync needs --qd 1"};
  std::unique_ptr<hal::QosDomain> domain =
      OrFail(unit.OpenQosDomain(QosDomainId(static_cast<uint16_t>(domain_id))),
             absl::StrFormat("open QoS domain %u", domain_id));
  // The data to read: N ADUs written once, in pieces the kernel's transfer limit allows.
  constexpr uint64_t kChunk = 64;
  std::vector<FlashAddress> addresses;
  std::vector<uint8_t> data(kChunk * wire::kAduDataBytes), meta(kChunk * wire::kAduMetaBytes);
  std::set<SuperBlockId> super_blocks;
  for (uint64_t lba = 0; lba < adus; lba += kChunk) {
    const uint64_t n = std::min(kChunk, adus - lba);
    for (uint64_t i = 0; i < n; ++i) {
      FillAdu(seed, lba + i, &data[i * wire::kAduDataBytes], &meta[i * wire::kAduMetaBytes]);
    }
    iovec iov{data.data(), n * wire::kAduDataBytes};
    hal::WriteResult r = OrFail(
        domain->Write({.target = hal::ByPlacement{PlacementId(0)},
                       .start = OrFail(UserAddress::Make(Lba(lba), kTag), "user address"),
                       .data = {&iov, 1},
                       .metadata = std::span<uint8_t>(meta.data(), n * wire::kAduMetaBytes)}),
        absl::StrFormat("write LBA %u..%u to QoS domain %u", lba, lba + n - 1, domain_id));
    for (FlashAddress f : r.addresses) {
      addresses.push_back(f);
      super_blocks.insert(domain->SuperBlockOf(f));
    }
  }
  for (SuperBlockId sb : super_blocks) {
    OrFail(domain->FlushSuperBlock(sb).status(),
           absl::StrFormat("flush super block %u", sb.value()));
  }

  // Each read buffer is followed by a guard the reads must leave alone (checked at the end).
  constexpr size_t kGuard = 4096;
  constexpr uint8_t kGuardByte = 0xA5;
  std::vector<std::vector<uint8_t>> buffers(
      qd, std::vector<uint8_t>(wire::kAduDataBytes + kGuard, kGuardByte));
  std::vector<iovec> iovs(qd);
  ReadBench b;
  {
    MutexLock lock(&b.mu);
    for (uint32_t i = 0; i < qd; ++i) {
      iovs[i] = {buffers[i].data(), wire::kAduDataBytes};
      b.free_slots.push_back(i);
    }
  }
  {
    MutexLock lock(&b.mu);
    b.x = Mix(seed ^ 0xBE4C4ull);
    if (form == "chained") b.free_slots.clear();  // every slot stays busy until the deadline
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  const auto next_address = [&] {
    MutexLock lock(&b.mu);
    b.x = Mix(b.x + 0x9E3779B97F4A7C15ull);
    return addresses[b.x % addresses.size()];
  };
  // Counts one read; true when the caller should start the next one in the same slot
  // (chained), else the slot is free again.
  const auto finished = [&](uint32_t slot, const absl::Status& s, bool chain) {
    MutexLock lock(&b.mu);
    if (s.ok()) {
      ++b.reads;
    } else if (b.errors++ == 0) {
      b.first_error = s.ToString();
    }
    if (chain && s.ok() && std::chrono::steady_clock::now() < deadline) return true;
    b.free_slots.push_back(slot);
    b.freed.Signal();
    return false;
  };
  // The chained form: each slot's callback starts the slot's next read. A callback that
  // runs on this thread (inside ReadAsync: the model backend completes inline) only hands its
  // slot back to the loop below, so the stack stays flat. Callbacks on other threads use
  // `issue` until the wait at the end: it must outlive every read.
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<uint32_t> ready;  // touched by this thread only
  std::function<void(uint32_t)> issue = [&](uint32_t slot) {
    domain->ReadAsync({.address = next_address(), .data = {&iovs[slot], 1}},
                      [&, slot](absl::Status s) {
                        if (!finished(slot, s, true)) return;
                        if (std::this_thread::get_id() == caller) {
                          ready.push_back(slot);
                        } else {
                          issue(slot);
                        }
                      });
  };
  if (form == "sync") {
    while (std::chrono::steady_clock::now() < deadline) {
      finished(0, domain->Read({.address = next_address(), .data = {&iovs[0], 1}}), false);
    }
  } else if (form == "async") {
    while (std::chrono::steady_clock::now() < deadline) {
      uint32_t slot;
      {
        MutexLock lock(&b.mu);
        while (b.free_slots.empty()) b.freed.Wait(&b.mu);
        slot = b.free_slots.back();
        b.free_slots.pop_back();
      }
      domain->ReadAsync({.address = next_address(), .data = {&iovs[slot], 1}},
                        [&finished, slot](absl::Status s) { finished(slot, s, false); });
    }
  } else {
    for (uint32_t slot = 0; slot < qd; ++slot) ready.push_back(slot);
    while (!ready.empty()) {
      const uint32_t slot = ready.back();
      ready.pop_back();
      issue(slot);
    }
  }
  MutexLock lock(&b.mu);
  while (b.free_slots.size() < qd) b.freed.Wait(&b.mu);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (b.errors != 0) {
    throw Failure{absl::StrFormat("%u of %u reads failed; the first: %s", b.errors,
                                  b.errors + b.reads, b.first_error)};
  }
  for (uint64_t i = 0; i < qd; ++i) {
    const auto guard = buffers[i].begin() + wire::kAduDataBytes;
    const auto bad =
        std::find_if(guard, buffers[i].end(), [](uint8_t v) { return v != kGuardByte; });
    if (bad != buffers[i].end()) {
      throw Failure{absl::StrFormat(
          "a read wrote past its %u-byte buffer (slot %u: byte %u of the guard after it)",
          wire::kAduDataBytes, i, bad - guard)};
    }
  }
  const double iops = static_cast<double>(b.reads) / elapsed;
  return {{"domain", domain_id},
          {"adus", adus},
          {"qd", qd},
          {"form", form},
          {"reads", b.reads},
          {"errors", b.errors},
          {"seconds", elapsed},
          {"iops", iops},
          {"mib_s", iops * wire::kAduDataBytes / (1024.0 * 1024.0)}};
}

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  Args args;
  std::optional<VerifyPlan> plan;
  try {
    args = Parse(argc, argv);
    if (args.command == "verify") plan = PlanVerify(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sef_hal_io: %s (try --help)\n", e.message.c_str());
    return 2;
  }
  hal::UnitOptions options;
  options.transport.force_ioctl = args.force_ioctl;
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = hal::Unit::Open(args.spec, std::move(options));
  if (!unit.ok()) {
    std::fprintf(stderr, "sef_hal_io: %s\n", unit.status().ToString().c_str());
    return 1;
  }
  try {
    json out;
    std::string problem;
    if (args.command == "setup") {
      out = Setup(**unit, args);
    } else if (args.command == "write") {
      out = args.flags.count("ftl") ? FtlWrite(**unit, args) : Write(**unit, args);
    } else if (args.command == "bench-read") {
      out = BenchRead(**unit, args);
    } else {
      out = plan->ftl ? FtlVerify(**unit, *plan, &problem) : Verify(**unit, *plan, &problem);
    }
    std::cout << out.dump() << std::endl;
    if (!problem.empty()) {
      std::fprintf(stderr, "sef_hal_io: verify: %s\n", problem.c_str());
      return 1;
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sef_hal_io: %s (try --help)\n", e.message.c_str());
    return 2;
  } catch (const Failure& e) {
    std::fprintf(stderr, "sef_hal_io: %s: %s\n", args.spec.c_str(), e.message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace sef::tools

int main(int argc, char** argv) { return sef::tools::Main(argc, argv); }
