// Why a table keyed by what the unit IS rather than by its name: "0", "model:a.json:x.sef"
// and "model:./a.json:./x.sef" can all name the same backing file, and two model controllers
// on one file would fight over its lock (the second would fail as if another process held
// it). The key is the canonical path of the backing file (or of the device node); a RAM
// model is keyed by its spec.
#include "sef/qemu_bridge/internal/unit_table.h"

#include <limits.h>
#include <stdlib.h>

#include <map>
#include <utility>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/model_transport.h"

namespace sef::qemu_bridge {
namespace {

std::string Canonical(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) != nullptr) return buf;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (realpath(dir.c_str(), buf) != nullptr) {
    return std::string(buf) + "/" + path.substr(slash == std::string::npos ? 0 : slash + 1);
  }
  return path;
}

std::string KeyOf(const units::ResolvedUnit& r) {
  if (!r.is_model()) return "host:" + Canonical(r.spec);
  const std::string rest = r.spec.substr(6);
  const size_t colon = rest.find(':');
  if (colon == std::string::npos || colon + 1 == rest.size()) return "ram:" + r.spec;
  return "file:" + Canonical(rest.substr(colon + 1));
}

// `status` with "<prefix>: " before its message; payloads kept.
absl::Status WithPrefix(const absl::Status& status, const std::string& prefix) {
  absl::Status out(status.code(), absl::StrFormat("%s: %s", prefix, status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

// An entry stays until its unit is closed: an expired entry means that a close is running
// (the file may still be locked), and AcquireUnit waits for it to end.
struct Table {
  Mutex mu;
  CondVar closed;
  std::map<std::string, std::weak_ptr<SharedUnit>> units ABSL_GUARDED_BY(mu);
};

// Never destroyed: units still open at exit are left to the OS (their owners close them
// first; a killed QEMU is a power cut anyway).
Table& TheTable() {
  static Table* table = new Table;
  return *table;
}

}  // namespace

SharedUnit::~SharedUnit() {
  hal_.reset();
  controller_.reset();
}

absl::Status SharedUnit::ClaimDomain(QosDomainId domain, std::string_view user) {
  MutexLock lock(&mu_);
  auto [it, inserted] = domains_.emplace(domain.value(), std::string(user));
  if (inserted) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrFormat("%s: QoS domain %u is in use by %s",
                                                  description(), domain.value(), it->second));
}

void SharedUnit::ReleaseDomain(QosDomainId domain) {
  MutexLock lock(&mu_);
  domains_.erase(domain.value());
}

absl::StatusOr<std::shared_ptr<SharedUnit>> AcquireUnit(std::string_view name) {
  SEF_ASSIGN_OR_RETURN(units::ResolvedUnit resolved, units::Resolve(name));
  const std::string key = KeyOf(resolved);
  Table& table = TheTable();
  // Held while opening, so that two devices naming one unit at once open it once.
  MutexLock lock(&table.mu);
  for (;;) {
    auto it = table.units.find(key);
    if (it == table.units.end()) break;
    if (std::shared_ptr<SharedUnit> open = it->second.lock()) return open;
    table.closed.Wait(&table.mu);
  }
  std::unique_ptr<SharedUnit> unit(new SharedUnit);
  unit->resolved_ = resolved;
  unit->key_ = key;
  auto prefixed = [&](const absl::Status& s) {
    return resolved.source == units::Source::kSpec ? s : WithPrefix(s, resolved.description);
  };
  SEF_RETURN_IF_ERROR(units::Prepare(resolved));
  if (resolved.is_model()) {
    absl::StatusOr<std::shared_ptr<model::Controller>> c =
        hal::OpenModelController(resolved.spec.substr(6));
    if (!c.ok()) return prefixed(c.status());
    unit->controller_ = *std::move(c);
    absl::StatusOr<std::unique_ptr<hal::Unit>> u =
        hal::Unit::Open(hal::MakeModelTransport(unit->controller_, resolved.spec));
    if (!u.ok()) return prefixed(u.status());
    unit->hal_ = *std::move(u);
  } else {
    absl::StatusOr<std::unique_ptr<hal::Unit>> u = hal::Unit::Open(resolved.spec);
    if (!u.ok()) return prefixed(u.status());
    unit->hal_ = *std::move(u);
  }
  SEF_RETURN_IF_ERROR(units::Provision(resolved, *unit->hal_));
  std::shared_ptr<SharedUnit> shared(unit.release(), [](SharedUnit* u) {
    const std::string key = u->key_;
    delete u;  // not under the table's lock: closing a unit may take a while
    Table& t = TheTable();
    {
      MutexLock lock(&t.mu);
      t.units.erase(key);
    }
    t.closed.SignalAll();
  });
  table.units[key] = shared;
  return shared;
}

}  // namespace sef::qemu_bridge
