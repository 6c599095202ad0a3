// sef-cli: administer SEF units, virtual devices, QoS domains, zoned namespaces and block FTL
// domains from the shell, in the public SDK's `<action> <target> [options]` form.
// docs/sef-cli.md is the user's page.
//
// The tool is one table of sub-commands (commands.cc: name, target, options, help, handler)
// over the public headers of //sef/hal, //sef/units, //sef/zns and //sef/ftl. main.cc parses the
// command line against the table, and generates --help, the man page and the bash completion from
// it. A handler reads its options from the Context, does its work through the public APIs and fills
// both outputs (JSON and text); main prints one of them.
//
// Exit status: 0 ok, 1 the operation failed (the unit, the device or a layer refused),
// 2 usage (unknown command or option, a value that does not parse). Every error is one line.
#ifndef TOOLS_SEF_CLI_CLI_H_
#define TOOLS_SEF_CLI_CLI_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "sef/hal/domain_kind.h"
#include "sef/hal/hal.h"

namespace sef::cli {

using nlohmann::json;

// An option of a command. `arg` is the value's name in help ("N", "LIST"), or nullptr for a
// flag. `short_name` is 0 or the letter of a one-letter alias (the SDK's -q, -v, -l, -f).
struct OptionSpec {
  const char* name;  // without "--"
  char short_name;
  const char* arg;
  const char* help;
};

class Context;
using Handler = absl::Status (*)(Context&);

struct CommandSpec {
  const char* action;
  const char* target;
  const char* summary;
  std::vector<OptionSpec> options;  // besides the global ones
  Handler handler;
};

// The table (commands.cc) and the options every command takes (--unit, --json, --help).
const std::vector<CommandSpec>& Commands();
const std::vector<OptionSpec>& GlobalOptions();

// A usage error: exit status 2 (every other error is 1).
absl::Status UsageError(std::string message);
bool IsUsageError(const absl::Status& s);

// A capacity as the user wrote it: ADUs ("4096"), bytes ("64M", "1GiB", "8192B"), or a
// percentage of the virtual device's capacity ("50%").
struct Capacity {
  enum class Unit { kAdus, kBytes, kPercent } unit = Unit::kAdus;
  uint64_t value = 0;
  std::string text;
  // ADUs for a VD of `vd_capacity_adus` ADUs. Errors: InvalidArgument (usage) naming the text.
  absl::StatusOr<uint64_t> Adus(uint64_t vd_capacity_adus) const;
};
absl::StatusOr<Capacity> ParseCapacity(const std::string& text, const char* option);

// What a handler sees: the parsed options, the unit (opened on first use), the outputs.
class Context {
 public:
  Context(const CommandSpec& command, std::map<std::string, std::string> options);
  ~Context();

  const CommandSpec& command() const { return command_; }
  bool Has(const std::string& option) const { return options_.count(option) != 0; }
  std::optional<std::string> Get(const std::string& option) const;
  // Typed option values; a value that does not parse is a usage error naming the option.
  absl::StatusOr<std::optional<uint64_t>> GetNumber(const std::string& option,
                                                    uint64_t max = ~uint64_t{0}) const;
  absl::StatusOr<std::optional<Capacity>> GetCapacity(const std::string& option) const;
  absl::StatusOr<std::optional<hal::DomainLabel>> GetLabel(const std::string& option) const;

  // The unit named by --unit (default "0"): a number (sef/units) or a HAL spec.
  const std::string& unit_name() const { return unit_name_; }
  absl::StatusOr<hal::Unit*> Unit();
  // The QoS domain named by --domain (-q) or --label (-l); usage error when neither is given.
  absl::StatusOr<QosDomainId> Domain();
  // NotFound naming the domain and the unit when the unit has no domain `id`.
  absl::StatusOr<QosDomainId> ExistingDomain(uint64_t id);

  // Outputs: `out` is printed with --json, `text` otherwise. A handler that fails after it
  // found something to show (ftl check's problems) sets `output_on_error`: the output is
  // printed on stdout, then the one-line error on stderr.
  json out = json::object();
  std::string text;
  bool output_on_error = false;

 private:
  const CommandSpec& command_;
  std::map<std::string, std::string> options_;
  std::string unit_name_;
  std::unique_ptr<hal::Unit> unit_;
};

// Text helpers.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);
std::string Hex(uint64_t v);
const char* DeadlineName(hal::ReadDeadline d);
const char* DefectName(hal::DefectStrategy d);
// Open by erase or by write: someone (an FTL, a zoned namespace, a writer) is using it.
inline bool IsOpen(const hal::SuperBlockEntry& sb) {
  return sb.state == hal::SuperBlockState::kOpenByErase ||
         sb.state == hal::SuperBlockState::kOpenByWrite;
}
// "none", "ftl", "zns", "foreign" (data but no kind) or "unknown" (a kind nobody knows).
std::string KindName(const hal::QosDomainInfo& info);

// Handlers (units_vd.cc, qos_domain.cc, backup.cc, zns.cc, ftl.cc).
absl::Status UnitList(Context& c);
absl::Status UnitInfo(Context& c);
absl::Status VdList(Context& c);
absl::Status VdInfo(Context& c);
absl::Status VdCreate(Context& c);
absl::Status VdDelete(Context& c);
absl::Status VdDraw(Context& c);
absl::Status DomainList(Context& c);
absl::Status DomainInfo(Context& c);
absl::Status DomainCreate(Context& c);
absl::Status DomainDelete(Context& c);
absl::Status DomainFormat(Context& c);
absl::Status DomainResize(Context& c);
absl::Status DomainLabel(Context& c);
absl::Status DomainBackup(Context& c);
absl::Status DomainRestore(Context& c);
absl::Status ZnsConfigure(Context& c);
absl::Status ZnsInfo(Context& c);
absl::Status ZnsReport(Context& c);
absl::Status FtlConfigure(Context& c);
absl::Status FtlInfo(Context& c);
absl::Status FtlCheck(Context& c);

// The generated documents (main.cc).
std::string ManPage();
std::string BashCompletion();

}  // namespace sef::cli

#endif  // TOOLS_SEF_CLI_CLI_H_
