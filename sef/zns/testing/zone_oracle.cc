#include "sef/zns/testing/zone_oracle.h"

#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"

namespace sef::zns::testing {

ZoneOracle::ZoneOracle(const Geometry& g) : g_(g), zones_(g.zones) {
  for (ZoneModel& z : zones_) z.word.assign(Cap(), 0);
}

void ZoneOracle::Acknowledged(uint32_t zone, uint32_t start, uint32_t n, uint64_t key, bool fua) {
  ZoneModel& z = zones_.at(zone);
  for (uint32_t i = 0; i < n; ++i) z.word.at(start + i) = Word(key, i);
  z.acked = std::max(z.acked, start + n);
  if (fua) z.durable = std::max(z.durable, start + n);
  // Filling the super block makes it durable and closes it.
  if (z.acked == Cap() && Cap() == g_.super_block_adus) {
    z.durable = z.acked;
    z.full = true;
  }
}

void ZoneOracle::Flushed() {
  for (ZoneModel& z : zones_) z.durable = z.acked;
}

namespace {
// A refusal of the namespace's own (Command Specific status), not a device failure.
bool Refused(const absl::Status& s) {
  return NvmeStatusOf(s).has_value() && NvmeStatusOf(s)->sct() == 1;
}
}  // namespace

void ZoneOracle::Finished(uint32_t zone, const absl::Status& s) {
  ZoneModel& z = zones_.at(zone);
  if (s.ok()) {
    z.full = true;
    z.durable = z.acked;
  } else if (!Refused(s)) {
    z.finish_unsure = true;
  }
}

void ZoneOracle::Reset(uint32_t zone, const absl::Status& s) {
  if (!s.ok() && Refused(s)) return;
  ZoneModel fresh;
  fresh.word.assign(Cap(), 0);
  if (!s.ok()) fresh.before_reset = std::make_shared<ZoneModel>(std::move(zones_.at(zone)));
  zones_.at(zone) = std::move(fresh);
}

absl::StatusOr<std::string> ZoneOracle::ReadBack(ZonedNamespace& ns, uint32_t zone) const {
  const ZoneModel& z = zones_.at(zone);
  if (z.acked == 0) return "";
  std::vector<uint8_t> data(uint64_t{z.acked} * kBlockBytes);
  iovec iov{data.data(), data.size()};
  if (absl::Status s = ns.Read(Lba(Zslba(zone)), z.acked, {&iov, 1}); !s.ok()) return s;
  for (uint32_t i = 0; i < z.acked; ++i) {
    uint64_t word;
    std::memcpy(&word, data.data() + uint64_t{i} * kBlockBytes, 8);
    if (word != z.word[i]) {
      return absl::StrFormat("zone %u block %u holds 0x%x, acknowledged 0x%x", zone, i, word,
                             z.word[i]);
    }
  }
  return "";
}

std::string ZoneOracle::Disallowed(const ZoneModel& m, ZoneState state, uint32_t n,
                                   const std::vector<uint64_t>& read) const {
  if (state == ZoneState::kEmpty) {
    if (m.durable > 0 || m.full) {
      return absl::StrFormat("Empty, but %u blocks were durable (full: %d)", m.durable, m.full);
    }
    return "";
  }
  if (n < m.durable || n > m.acked) {
    return absl::StrFormat("%u blocks of data; durable %u, acknowledged %u", n, m.durable, m.acked);
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (read[i] != m.word[i]) {
      return absl::StrFormat("block %u holds 0x%x, written 0x%x", i, read[i], m.word[i]);
    }
  }
  if (state == ZoneState::kFull) {
    if (!m.full && !m.finish_unsure && n < Cap()) {
      return absl::StrFormat("Full with %u blocks, never finished", n);
    }
    return "";
  }
  if (state == ZoneState::kClosed) {
    if (m.full) return "Closed, but it was finished or filled durably";
    if (n == 0 || n >= Cap()) return absl::StrFormat("Closed with %u blocks", n);
    return "";
  }
  return absl::StrFormat("in state %s after a restart", ZoneStateName(state));
}

std::string ZoneOracle::CheckZone(ZonedNamespace& ns, uint32_t zone, bool& holding) {
  absl::StatusOr<ZoneReport> r = ns.Report(Lba(Zslba(zone)), ReportFilter::kAll, 1);
  if (!r.ok()) return r.status().ToString();
  const ZoneDescriptor& d = r->zones.at(0);
  std::vector<uint8_t> data(g_.zone_size * kBlockBytes);
  iovec iov{data.data(), data.size()};
  if (absl::Status s = ns.Read(Lba(Zslba(zone)), static_cast<uint32_t>(g_.zone_size), {&iov, 1});
      !s.ok()) {
    return "read: " + s.ToString();
  }
  std::vector<uint64_t> read(g_.zone_size);
  for (uint64_t i = 0; i < g_.zone_size; ++i) {
    std::memcpy(&read[i], data.data() + i * kBlockBytes, 8);
  }
  // The blocks with data: up to the write pointer, or (Full) the first zero block.
  uint32_t n = 0;
  if (d.state == ZoneState::kClosed) {
    n = static_cast<uint32_t>(d.write_pointer.value() - Zslba(zone));
  } else if (d.state == ZoneState::kFull) {
    while (n < Cap() && read[n] != 0) ++n;
  }
  for (uint64_t i = n; i < g_.zone_size; ++i) {
    if (read[i] != 0) return absl::StrFormat("block %u past the data is not zero", i);
  }
  if (d.attributes != 0) return absl::StrFormat("attributes 0x%x", d.attributes);
  ZoneModel& m = zones_[zone];
  std::string why = Disallowed(m, d.state, n, read);
  if (!why.empty() && m.before_reset != nullptr &&
      Disallowed(*m.before_reset, d.state, n, read).empty()) {
    m = *m.before_reset;  // the reset did not happen
    why.clear();
  }
  if (!why.empty()) return why;
  // From now on the zone is what was recovered, all of it durable.
  for (uint32_t i = n; i < Cap(); ++i) m.word[i] = 0;
  m.acked = m.durable = n;
  m.full = d.state == ZoneState::kFull;
  m.finish_unsure = false;
  m.before_reset.reset();
  holding = d.state != ZoneState::kEmpty;
  ++seen_[d.state == ZoneState::kFull ? 2 : d.state == ZoneState::kClosed ? 1 : 0];
  verified_ += n;
  return "";
}

std::string ZoneOracle::CheckAfterRestart(ZonedNamespace& ns, hal::Unit& unit, QosDomainId domain) {
  size_t holding = 0;
  for (uint32_t zone = 0; zone < g_.zones; ++zone) {
    bool holds = false;
    if (std::string why = CheckZone(ns, zone, holds); !why.empty()) {
      return absl::StrFormat("zone %u: %s", zone, why);
    }
    holding += holds;
  }
  // No super block left over: one per zone that is not empty.
  absl::StatusOr<std::unique_ptr<hal::QosDomain>> d = unit.OpenQosDomain(domain);
  if (!d.ok()) return "OpenQosDomain: " + d.status().ToString();
  absl::StatusOr<std::vector<hal::SuperBlockEntry>> sbs = (*d)->ListSuperBlocks();
  if (!sbs.ok()) return "ListSuperBlocks: " + sbs.status().ToString();
  if (sbs->size() != holding) {
    return absl::StrFormat("%u super blocks for %u zones that are not empty", sbs->size(), holding);
  }
  return "";
}

}  // namespace sef::zns::testing
