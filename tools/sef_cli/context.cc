// The Context handlers read their options from, option value parsers, text helpers.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sef/units/units.h"
#include "tools/sef_cli/cli.h"

namespace sef::cli {

namespace {
constexpr char kUsagePayload[] = "sef-cli/usage";
}  // namespace

absl::Status UsageError(std::string message) {
  absl::Status s = absl::InvalidArgumentError(std::move(message));
  s.SetPayload(kUsagePayload, absl::Cord("1"));
  return s;
}

bool IsUsageError(const absl::Status& s) { return s.GetPayload(kUsagePayload).has_value(); }

absl::StatusOr<Capacity> ParseCapacity(const std::string& text, const char* option) {
  Capacity c;
  c.text = text;
  absl::string_view rest = text;
  size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
  const auto bad = [&](const char* why) {
    return UsageError(
        absl::StrFormat("--%s '%s': %s (ADUs: 4096; bytes: 64M, 1GiB, 8192B; "
                        "percent of the VD: 50%%)",
                        option, text, why));
  };
  if (digits == 0 || !absl::SimpleAtoi(absl::string_view(rest.data(), digits), &c.value)) {
    return bad("not a capacity");
  }
  std::string suffix(rest.substr(digits));
  std::transform(suffix.begin(), suffix.end(), suffix.begin(),
                 [](unsigned char ch) { return std::toupper(ch); });
  static const std::pair<const char*, int> kBinary[] = {
      {"B", 0},  {"K", 10},  {"KB", 10},  {"KIB", 10}, {"M", 20},  {"MB", 20},  {"MIB", 20},
      {"G", 30}, {"GB", 30}, {"GIB", 30}, {"T", 40},   {"TB", 40}, {"TIB", 40},
  };
  if (suffix.empty()) {
    c.unit = Capacity::Unit::kAdus;
  } else if (suffix == "%") {
    c.unit = Capacity::Unit::kPercent;
    if (c.value > 100) return bad("more than 100%");
  } else {
    const auto* it = std::find_if(std::begin(kBinary), std::end(kBinary),
                                  [&](const auto& b) { return suffix == b.first; });
    if (it == std::end(kBinary)) return bad("unknown unit");
    if (c.value > (std::numeric_limits<uint64_t>::max() >> it->second)) return bad("too large");
    c.unit = Capacity::Unit::kBytes;
    c.value <<= it->second;
    if (c.value % wire::kAduDataBytes != 0) return bad("not a whole number of 4096-byte ADUs");
  }
  if (c.value == 0) return bad("zero");
  return c;
}

absl::StatusOr<uint64_t> Capacity::Adus(uint64_t vd_capacity_adus) const {
  switch (unit) {
    case Unit::kAdus:
      return value;
    case Unit::kBytes:
      return value / wire::kAduDataBytes;
    case Unit::kPercent:
      return vd_capacity_adus * value / 100;
  }
  return value;
}

Context::Context(const CommandSpec& command, std::map<std::string, std::string> options)
    : command_(command), options_(std::move(options)) {
  unit_name_ = Get("unit").value_or("0");
}

Context::~Context() = default;

std::optional<std::string> Context::Get(const std::string& option) const {
  auto it = options_.find(option);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<uint64_t>> Context::GetNumber(const std::string& option,
                                                           uint64_t max) const {
  std::optional<std::string> v = Get(option);
  if (!v) return std::nullopt;
  uint64_t n = 0;
  const bool hex = absl::StartsWith(*v, "0x");
  if (!(hex ? absl::SimpleHexAtoi(v->substr(2), &n) : absl::SimpleAtoi(*v, &n)) || v->empty() ||
      (*v)[0] == '-' || (*v)[0] == '+') {
    return UsageError(absl::StrFormat("--%s '%s' is not a number", option, *v));
  }
  if (n > max) {
    return UsageError(absl::StrFormat("--%s %u is above the largest allowed, %u", option, n, max));
  }
  return n;
}

absl::StatusOr<std::optional<Capacity>> Context::GetCapacity(const std::string& option) const {
  std::optional<std::string> v = Get(option);
  if (!v) return std::nullopt;
  absl::StatusOr<Capacity> c = ParseCapacity(*v, option.c_str());
  if (!c.ok()) return c.status();
  return *c;
}

absl::StatusOr<std::optional<hal::DomainLabel>> Context::GetLabel(const std::string& option) const {
  std::optional<std::string> v = Get(option);
  if (!v) return std::nullopt;
  std::vector<std::string> words = absl::StrSplit(*v, absl::ByAnyChar(" ,:"), absl::SkipEmpty());
  hal::DomainLabel label;
  if (words.size() != 2 || !absl::SimpleAtoi(words[0], &label.first) ||
      !absl::SimpleAtoi(words[1], &label.second)) {
    return UsageError(absl::StrFormat(
        "--%s '%s' is not a label: two unsigned 64-bit numbers, \"U64 U64\"", option, *v));
  }
  return label;
}

absl::StatusOr<hal::Unit*> Context::Unit() {
  if (unit_ == nullptr) {
    absl::StatusOr<std::unique_ptr<hal::Unit>> unit = units::Open(unit_name_);
    if (!unit.ok()) return unit.status();
    unit_ = std::move(*unit);
  }
  return unit_.get();
}

absl::StatusOr<QosDomainId> Context::Domain() {
  absl::StatusOr<std::optional<uint64_t>> id = GetNumber("domain", 0xFFFF);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::optional<hal::DomainLabel>> label = GetLabel("label");
  if (!label.ok()) return label.status();
  if (id->has_value() == label->has_value()) {
    return UsageError(
        absl::StrFormat("%s %s: name the QoS domain by --domain ID or --label "
                        "\"U64 U64\" (one of them)",
                        command_.action, command_.target));
  }
  absl::StatusOr<hal::Unit*> unit = Unit();
  if (!unit.ok()) return unit.status();
  if (label->has_value()) return hal::FindQosDomainByLabel(**unit, **label);
  return ExistingDomain(**id);
}

absl::StatusOr<QosDomainId> Context::ExistingDomain(uint64_t id) {
  absl::StatusOr<hal::Unit*> unit = Unit();
  if (!unit.ok()) return unit.status();
  const QosDomainId domain(static_cast<uint16_t>(id));
  // A clear NotFound naming the domain and the unit, whatever the backend answers.
  absl::StatusOr<std::vector<QosDomainId>> ids = (*unit)->ListQosDomains();
  if (!ids.ok()) return ids.status();
  if (std::find(ids->begin(), ids->end(), domain) == ids->end()) {
    return absl::NotFoundError(
        absl::StrFormat("no QoS domain %u on %s", domain.value(), (*unit)->name()));
  }
  return domain;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string Hex(uint64_t v) { return absl::StrFormat("0x%016x", v); }

const char* DeadlineName(hal::ReadDeadline d) {
  static const char* kNames[] = {"typical", "long", "heroic", "fastest"};
  return kNames[static_cast<int>(d) & 3];
}

const char* DefectName(hal::DefectStrategy d) {
  switch (d) {
    case hal::DefectStrategy::kPerfect:
      return "perfect";
    case hal::DefectStrategy::kPacked:
      return "packed";
    case hal::DefectStrategy::kFragmented:
      return "fragmented";
  }
  return "unknown";
}

std::string KindName(const hal::QosDomainInfo& info) {
  const uint64_t kind = info.root_pointers[hal::kKindRootPointer.value()].raw();
  if (kind == hal::kDomainKindBlockFtl) return "ftl";
  if (kind == hal::kDomainKindZoned) return "zns";
  if (kind != hal::kDomainKindNone) return "unknown";
  bool data = info.super_blocks != 0;
  for (uint32_t i = 0; i < info.root_pointers.size(); ++i) {
    const bool label =
        i == hal::kLabelRootPointers[0].value() || i == hal::kLabelRootPointers[1].value();
    if (!label && info.root_pointers[i].raw() != 0) data = true;
  }
  return data ? "foreign" : "none";
}

}  // namespace sef::cli
