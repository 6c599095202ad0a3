// Unit names to HAL units (units.h).
//
// Why it is built this way:
// - Resolution is a pure function of an Environment, so tests drive every rule (file, host
//   discovery, embedded default) without touching the real environment or /dev.
// - The embedded default's configuration is compiled in (a genrule over
//   testdata/units/default.json) so that the seed's command lines work on a machine with
//   nothing installed; it is written out to <data dir>/unit0.json because the HAL opens
//   models from a file, and the model refuses a backing file made for another configuration,
//   so a stale copy can never silently change the unit.
// - Provisioning only ever adds what is missing (a VD when there is none, domains up to
//   kDefaultQosDomains), so a process killed half-way is finished by the next open.
#include "sef/units/units.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "sef/base/status_macros.h"
#include "sef/hal/transport.h"

namespace sef::units {

// Generated from testdata/units/default.json (BUILD.bazel, :embedded_default_config).
extern const char kEmbeddedDefaultConfigJson[];

namespace {

constexpr char kModelPrefix[] = "model:";
constexpr char kKernelPrefix[] = "/dev/nvme";
constexpr char kSpecForms[] = "model:<config.json>[:<backing file>] or /dev/nvmeN";

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

bool IsSpec(std::string_view name) {
  return name.rfind(kModelPrefix, 0) == 0 || name.rfind(kKernelPrefix, 0) == 0;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

absl::Status OsError(int err, const std::string& what) {
  return absl::Status(err == ENOENT   ? absl::StatusCode::kNotFound
                      : err == EACCES ? absl::StatusCode::kPermissionDenied
                                      : absl::StatusCode::kInternal,
                      absl::StrFormat("%s: %s", what, std::strerror(err)));
}

// What the units file says.
struct UnitsFile {
  std::string path;  // "" when there is none
  std::map<uint32_t, std::string> units;
  std::set<uint32_t> provision;  // units named in "units" that get the default layout
  bool discover = true;
};

absl::StatusOr<uint32_t> ParseNumber(std::string_view text) {
  uint32_t n = 0;
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &n)) {
    return absl::InvalidArgumentError("");
  }
  return n;
}

absl::StatusOr<UnitsFile> LoadUnitsFile(const Environment& env) {
  UnitsFile file;
  if (!env.units_file.empty()) {
    file.path = env.units_file;
    if (!FileExists(file.path)) {
      return absl::NotFoundError(
          absl::StrFormat("units file %s (SEF_UNITS_FILE) does not exist", file.path));
    }
  } else {
    const std::string path = env.config_home + "/sef/units.json";
    if (env.config_home.empty() || !FileExists(path)) return file;
    file.path = path;
  }
  std::ifstream in(file.path);
  if (!in) return OsError(errno, absl::StrFormat("units file %s", file.path));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrFormat("units file %s: %s", file.path, what));
  };
  if (j.is_discarded()) return bad("not valid JSON");
  if (!j.is_object()) return bad("not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key == "discover") {
      if (!value.is_boolean()) return bad("\"discover\" must be true or false");
      file.discover = value.get<bool>();
    } else if (key == "units") {
      if (!value.is_object()) return bad("\"units\" must be an object of number: spec");
      for (const auto& [number, spec] : value.items()) {
        absl::StatusOr<uint32_t> n = ParseNumber(number);
        if (!n.ok()) {
          return bad(absl::StrFormat("unit \"%s\" is not a number", number));
        }
        if (!spec.is_string() || !IsSpec(spec.get<std::string>())) {
          return bad(absl::StrFormat("unit %s: %s is not a SEF unit spec (%s)", number, spec.dump(),
                                     kSpecForms));
        }
        if (!file.units.emplace(*n, spec.get<std::string>()).second) {
          return bad(absl::StrFormat("unit %u is named twice", *n));
        }
      }
    } else if (key == "provision") {
      if (!value.is_array()) return bad("\"provision\" must be an array of unit numbers");
      for (const auto& number : value) {
        absl::StatusOr<uint32_t> n = number.is_string()
                                         ? ParseNumber(number.get<std::string>())
                                         : absl::StatusOr<uint32_t>(absl::InvalidArgumentError(""));
        if (!n.ok()) {
          return bad(
              absl::StrFormat("\"provision\": %s is not a unit number (a string)", number.dump()));
        }
        file.provision.insert(*n);
      }
    } else {
      return bad(absl::StrFormat(
          "unknown key \"%s\" (known: \"units\", \"discover\", \"provision\")", key));
    }
  }
  for (uint32_t n : file.provision) {
    if (file.units.count(n) == 0) {
      return bad(absl::StrFormat("\"provision\" names unit %u, which \"units\" does not name", n));
    }
  }
  return file;
}

// The host's SEF units numbered into the numbers the file leaves free.
std::map<uint32_t, std::string> NumberHostUnits(const UnitsFile& file,
                                                const std::vector<std::string>& found) {
  std::set<std::string> named;
  for (const auto& [n, spec] : file.units) named.insert(spec);
  std::map<uint32_t, std::string> out;
  uint32_t next = 0;
  for (const std::string& spec : found) {
    if (named.count(spec) != 0) continue;
    while (file.units.count(next) != 0) ++next;
    out[next++] = spec;
  }
  return out;
}

absl::StatusOr<ResolvedUnit> EmbeddedDefault(const ResolvedUnit& base, const std::string& dir) {
  if (dir.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unit %s (the embedded default unit): no data directory (set SEF_DATA_DIR, "
                        "XDG_DATA_HOME or HOME)",
                        base.name));
  }
  if (dir.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unit %s (the embedded default unit): its data directory %s contains ':', which a "
        "model: spec cannot carry (set SEF_DATA_DIR to another directory)",
        base.name, dir));
  }
  ResolvedUnit r = base;
  r.source = Source::kEmbeddedDefault;
  r.spec = absl::StrFormat("%s%s/unit0.json:%s/unit0.sef", kModelPrefix, dir, dir);
  r.description =
      absl::StrFormat("unit %s (the embedded default unit, %s/unit0.sef)", base.name, dir);
  return r;
}

// `status` with "<prefix>: " before its message; payloads (the NVMe status) kept.
absl::Status WithPrefix(const absl::Status& status, const std::string& prefix) {
  absl::Status out(status.code(), absl::StrFormat("%s: %s", prefix, status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

std::string DescribeLookup(const UnitsFile& file, const std::map<uint32_t, std::string>& host,
                           bool discovered) {
  std::vector<std::string> parts;
  if (file.path.empty()) {
    parts.push_back("no units file (SEF_UNITS_FILE, ~/.config/sef/units.json)");
  } else {
    std::vector<std::string> numbers;
    for (const auto& [n, spec] : file.units) numbers.push_back(absl::StrCat(n));
    parts.push_back(absl::StrFormat(
        "units file %s names %s", file.path,
        numbers.empty() ? std::string("none") : "unit(s) " + absl::StrJoin(numbers, ", ")));
  }
  if (!discovered) {
    parts.push_back("host discovery is off in the units file");
  } else if (host.empty()) {
    parts.push_back("no SEF unit found on the host");
  } else {
    std::vector<std::string> found;
    for (const auto& [n, spec] : host) found.push_back(absl::StrFormat("%s as unit %u", spec, n));
    parts.push_back("found on the host: " + absl::StrJoin(found, ", "));
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace

Environment Environment::FromProcess() {
  Environment env;
  const std::string home = EnvOr("HOME", "");
  env.units_file = EnvOr("SEF_UNITS_FILE", "");
  env.config_home = EnvOr("XDG_CONFIG_HOME", home.empty() ? "" : home + "/.config");
  const std::string data_home = EnvOr("XDG_DATA_HOME", home.empty() ? "" : home + "/.local/share");
  env.data_dir = EnvOr("SEF_DATA_DIR", data_home.empty() ? "" : data_home + "/sef");
  env.discover = DiscoverHostUnits;
  return env;
}

std::vector<std::string> DiscoverHostUnits() {
  std::vector<uint32_t> numbers;
  if (DIR* dir = opendir("/dev")) {
    while (const dirent* e = readdir(dir)) {
      const std::string_view name = e->d_name;
      if (name.rfind("nvme", 0) != 0) continue;
      absl::StatusOr<uint32_t> n = ParseNumber(name.substr(4));
      if (n.ok()) numbers.push_back(*n);
    }
    closedir(dir);
  }
  std::sort(numbers.begin(), numbers.end());
  std::vector<std::string> found;
  for (uint32_t n : numbers) {
    const std::string spec = absl::StrFormat("%s%u", kKernelPrefix, n);
    // The kernel backend's open asks Identify CNS 1Ch and refuses controllers without SEF.
    if (hal::OpenTransport(spec, {}).ok()) found.push_back(spec);
  }
  return found;
}

absl::StatusOr<ResolvedUnit> Resolve(std::string_view name, const Environment& env) {
  ResolvedUnit r;
  r.name = std::string(name);
  if (IsSpec(name)) {
    r.spec = r.name;
    r.description = r.name;
    return r;
  }
  absl::StatusOr<uint32_t> number = ParseNumber(name);
  if (!number.ok()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unit '%s' is neither a unit number nor a SEF unit spec (%s)", name, kSpecForms));
  }
  SEF_ASSIGN_OR_RETURN(UnitsFile file, LoadUnitsFile(env));
  if (auto it = file.units.find(*number); it != file.units.end()) {
    r.source = Source::kUnitsFile;
    r.spec = it->second;
    r.provision = file.provision.count(*number) != 0;
    r.description = absl::StrFormat("unit %u (from %s: %s)", *number, file.path, r.spec);
    return r;
  }
  std::map<uint32_t, std::string> host;
  if (file.discover && env.discover) host = NumberHostUnits(file, env.discover());
  if (auto it = host.find(*number); it != host.end()) {
    r.source = Source::kHost;
    r.spec = it->second;
    r.description = absl::StrFormat("unit %u (found on the host: %s)", *number, r.spec);
    return r;
  }
  if (*number == 0) return EmbeddedDefault(r, env.data_dir);
  return absl::NotFoundError(absl::StrFormat("unit %u: no such SEF unit (%s)", *number,
                                             DescribeLookup(file, host, file.discover)));
}

std::string_view EmbeddedDefaultConfig() { return kEmbeddedDefaultConfigJson; }

absl::Status Prepare(const ResolvedUnit& unit) {
  if (unit.source != Source::kEmbeddedDefault) return absl::OkStatus();
  // spec = model:<dir>/unit0.json:<dir>/unit0.sef
  const std::string rest = unit.spec.substr(sizeof(kModelPrefix) - 1);
  const std::string config = rest.substr(0, rest.find(':'));
  const std::string dir = config.substr(0, config.rfind('/'));
  // mkdir -p
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    const std::string part = dir.substr(0, at);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return OsError(errno, absl::StrFormat("%s: cannot create %s", unit.description, part));
    }
  }
  const std::string_view want = EmbeddedDefaultConfig();
  {
    std::ifstream in(config);
    std::stringstream have;
    if (in) have << in.rdbuf();
    if (in && have.str() == want) return absl::OkStatus();
  }
  // Written under a temporary name and renamed: a reader never sees half a file.
  const std::string tmp = absl::StrFormat("%s.tmp.%d", config, getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return OsError(errno, absl::StrFormat("%s: cannot write %s", unit.description, tmp));
  size_t done = 0;
  while (done < want.size()) {
    const ssize_t n = write(fd, want.data() + done, want.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      close(fd);
      unlink(tmp.c_str());
      return OsError(e, absl::StrFormat("%s: cannot write %s", unit.description, tmp));
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(tmp.c_str(), config.c_str()) != 0) {
    const int e = errno;
    unlink(tmp.c_str());
    return OsError(e, absl::StrFormat("%s: cannot write %s", unit.description, config));
  }
  return absl::OkStatus();
}

namespace {

absl::Status ProvisionDefault(hal::Unit& unit) {
  SEF_ASSIGN_OR_RETURN(const hal::UnitInfo info, unit.Info());
  SEF_ASSIGN_OR_RETURN(std::vector<VirtualDeviceId> vds, unit.ListVirtualDevices());
  if (vds.empty()) {
    hal::VirtualDeviceConfig vd{.id = VirtualDeviceId(1)};
    for (uint32_t die = 0; die < info.dies(); ++die) vd.dies.push_back(static_cast<uint16_t>(die));
    vd.dies_per_super_block =
        static_cast<uint16_t>(std::min<uint32_t>(kDefaultDiesPerSuperBlock, info.dies()));
    SEF_RETURN_IF_ERROR(unit.CreateVirtualDevices({vd}));
    vds.push_back(vd.id);
  }
  SEF_ASSIGN_OR_RETURN(std::vector<QosDomainId> domains, unit.ListQosDomains());
  if (domains.size() >= kDefaultQosDomains) return absl::OkStatus();
  SEF_ASSIGN_OR_RETURN(const hal::VirtualDeviceInfo vd, unit.GetVirtualDeviceInfo(vds.front()));
  hal::QosDomainConfig config{.vd = vd.id};
  // Whole super blocks, an equal share each.
  const uint64_t sbs = vd.capacity_adus / vd.super_block_adus;
  config.capacity_adus = sbs / kDefaultQosDomains * vd.super_block_adus;
  config.placement_ids = static_cast<uint16_t>(std::max<uint32_t>(1, info.max_placement_ids));
  config.max_open_super_blocks =
      static_cast<uint16_t>(std::max<uint32_t>(1, info.max_open_super_blocks));
  for (size_t i = domains.size(); i < kDefaultQosDomains; ++i) {
    SEF_RETURN_IF_ERROR(unit.CreateQosDomain(config).status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Provision(const ResolvedUnit& unit, hal::Unit& opened) {
  if (unit.source != Source::kEmbeddedDefault && !unit.provision) return absl::OkStatus();
  absl::Status s = ProvisionDefault(opened);
  if (s.ok()) return s;
  return WithPrefix(s, unit.description + ": provisioning failed");
}

absl::StatusOr<std::unique_ptr<hal::Unit>> Open(std::string_view name, const Environment& env,
                                                hal::UnitOptions options) {
  SEF_ASSIGN_OR_RETURN(const ResolvedUnit r, Resolve(name, env));
  SEF_RETURN_IF_ERROR(Prepare(r));
  absl::StatusOr<std::unique_ptr<hal::Unit>> unit = hal::Unit::Open(r.spec, std::move(options));
  if (!unit.ok()) {
    if (r.source == Source::kSpec) return unit.status();
    return WithPrefix(unit.status(), r.description);
  }
  SEF_RETURN_IF_ERROR(Provision(r, **unit));
  return unit;
}

}  // namespace sef::units
