// sef-cli's command line: `<action> <target> [options]` parsed against the table
// (commands.cc), unique prefixes of actions and targets accepted; --help, the man page and the
// bash completion generated from the same table. See cli.h for the exit statuses.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "tools/sef_cli/cli.h"

namespace sef::cli {
namespace {

constexpr char kVersion[] = "sef-cli 1.0";

std::vector<std::string> Actions() {
  std::vector<std::string> out;
  for (const CommandSpec& c : Commands()) {
    if (std::find(out.begin(), out.end(), c.action) == out.end()) out.push_back(c.action);
  }
  return out;
}

std::vector<std::string> Targets(const std::string& action = "") {
  std::vector<std::string> out;
  for (const CommandSpec& c : Commands()) {
    if (!action.empty() && action != c.action) continue;
    if (std::find(out.begin(), out.end(), c.target) == out.end()) out.push_back(c.target);
  }
  return out;
}

// `word` itself if it is a name, else the one name it is a prefix of.
absl::StatusOr<std::string> Match(const std::string& word, const std::vector<std::string>& names,
                                  const char* what) {
  if (std::find(names.begin(), names.end(), word) != names.end()) return word;
  std::vector<std::string> hits;
  for (const std::string& n : names) {
    if (absl::StartsWith(n, word)) hits.push_back(n);
  }
  if (hits.size() == 1) return hits[0];
  if (hits.empty()) {
    return UsageError(
        absl::StrFormat("unknown %s '%s' (%ss: %s)", what, word, what, absl::StrJoin(names, ", ")));
  }
  return UsageError(
      absl::StrFormat("%s '%s' is ambiguous (%s)", what, word, absl::StrJoin(hits, ", ")));
}

std::string OptionUsage(const OptionSpec& o) {
  std::string s = o.short_name ? absl::StrFormat("-%c, --%s", o.short_name, o.name)
                               : absl::StrFormat("    --%s", o.name);
  if (o.arg != nullptr) s += absl::StrCat(" ", o.arg);
  return s;
}

std::string OptionsHelp(const std::vector<OptionSpec>& options) {
  std::vector<std::vector<std::string>> rows;
  for (const OptionSpec& o : options) rows.push_back({"  " + OptionUsage(o), o.help});
  return FormatTable(rows);
}

std::string CommandHelp(const CommandSpec& c) {
  std::string s =
      absl::StrFormat("usage: sef-cli %s %s [options]\n%s.\n", c.action, c.target, c.summary);
  if (!c.options.empty()) s += "\noptions:\n" + OptionsHelp(c.options);
  s += "\nglobal options:\n" + OptionsHelp(GlobalOptions());
  return s;
}

std::string GeneralHelp() {
  std::vector<std::vector<std::string>> rows;
  for (const CommandSpec& c : Commands()) {
    rows.push_back({absl::StrFormat("  %s %s", c.action, c.target), c.summary});
  }
  return absl::StrCat(
      "usage: sef-cli <action> <target> [options]   (unique prefixes: sef-cli li q = list "
      "qos-domain)\n       sef-cli --help | --version | --man | --completion bash\n\ncommands:\n",
      FormatTable(rows), "\nglobal options:\n", OptionsHelp(GlobalOptions()),
      "\nsef-cli <action> <target> --help describes a command's options. Exit status: 0 ok, 1 "
      "the operation failed, 2 usage.\n");
}

std::string Troff(std::string s) {
  s = absl::StrReplaceAll(s, {{"\\", "\\e"}, {"-", "\\-"}});
  if (!s.empty() && (s[0] == '.' || s[0] == '\'')) s = "\\&" + s;
  return s;
}

std::string ManOptions(const std::vector<OptionSpec>& options) {
  std::string s;
  for (const OptionSpec& o : options) {
    s += ".TP\n";
    std::string head = o.short_name ? absl::StrFormat("\\fB\\-%c\\fR, ", o.short_name) : "";
    head += absl::StrFormat("\\fB\\-\\-%s\\fR", Troff(o.name));
    if (o.arg != nullptr) head += absl::StrFormat(" \\fI%s\\fR", Troff(o.arg));
    s += head + "\n" + Troff(o.help) + "\n";
  }
  return s;
}

// Splits argv[first..] into options (by the command's table and the global ones).
absl::StatusOr<std::map<std::string, std::string>> ParseOptions(const CommandSpec& command,
                                                                int argc, char** argv, int first) {
  std::vector<OptionSpec> known = command.options;
  known.insert(known.end(), GlobalOptions().begin(), GlobalOptions().end());
  std::map<std::string, std::string> options;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    const OptionSpec* spec = nullptr;
    std::optional<std::string> value;
    if (absl::StartsWith(arg, "--")) {
      std::string name = arg.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      for (const OptionSpec& o : known) {
        if (name == o.name) spec = &o;
      }
    } else if (arg.size() == 2 && arg[0] == '-') {
      for (const OptionSpec& o : known) {
        if (o.short_name != 0 && arg[1] == o.short_name) spec = &o;
      }
    } else {
      return UsageError(
          absl::StrFormat("%s %s: unexpected argument '%s'", command.action, command.target, arg));
    }
    if (spec == nullptr) {
      return UsageError(absl::StrFormat("%s %s: unknown option '%s' (see sef-cli %s %s --help)",
                                        command.action, command.target, arg, command.action,
                                        command.target));
    }
    if (spec->arg == nullptr && value) {
      return UsageError(absl::StrFormat("--%s takes no value", spec->name));
    }
    if (spec->arg != nullptr && !value) {
      if (i + 1 >= argc) {
        return UsageError(absl::StrFormat("--%s needs a value (%s)", spec->name, spec->arg));
      }
      value = argv[++i];
    }
    if (!options.emplace(spec->name, value.value_or("")).second) {
      return UsageError(absl::StrFormat("--%s given twice", spec->name));
    }
  }
  return options;
}

int Fail(const absl::Status& s) {
  std::string message(s.message());
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::fprintf(stderr, "sef-cli: %s\n", message.c_str());
  return IsUsageError(s) ? 2 : 1;
}

int Main(int argc, char** argv) {
  if (argc < 2) return Fail(UsageError("usage: sef-cli <action> <target> [options] (try --help)"));
  const std::string first = argv[1];
  if (first == "--help" || first == "-h") {
    std::fputs(GeneralHelp().c_str(), stdout);
    return 0;
  }
  if (first == "--version") {
    std::printf("%s\n", kVersion);
    return 0;
  }
  if (first == "--man" && argc == 2) {
    std::fputs(ManPage().c_str(), stdout);
    return 0;
  }
  if (first == "--completion") {
    if (argc != 3 || std::string(argv[2]) != "bash") {
      return Fail(UsageError("--completion takes one shell: bash"));
    }
    std::fputs(BashCompletion().c_str(), stdout);
    return 0;
  }
  absl::StatusOr<std::string> action = Match(first, Actions(), "action");
  if (!action.ok()) return Fail(action.status());
  if (argc < 3 || argv[2][0] == '-') {
    return Fail(UsageError(
        absl::StrFormat("%s needs a target (%s)", *action, absl::StrJoin(Targets(*action), ", "))));
  }
  absl::StatusOr<std::string> target = Match(argv[2], Targets(*action), "target");
  if (!target.ok()) {
    absl::StatusOr<std::string> any = Match(argv[2], Targets(), "target");
    if (any.ok()) {
      return Fail(UsageError(absl::StrFormat("%s does not apply to %s (it applies to: %s)", *action,
                                             *any, absl::StrJoin(Targets(*action), ", "))));
    }
    return Fail(target.status());
  }
  const CommandSpec* command = nullptr;
  for (const CommandSpec& c : Commands()) {
    if (*action == c.action && *target == c.target) command = &c;
  }
  absl::StatusOr<std::map<std::string, std::string>> options =
      ParseOptions(*command, argc, argv, 3);
  if (!options.ok()) return Fail(options.status());
  if (options->count("help")) {
    std::fputs(CommandHelp(*command).c_str(), stdout);
    return 0;
  }
  Context context(*command, std::move(*options));
  absl::Status s = command->handler(context);
  if (s.ok() || context.output_on_error) {
    if (context.Has("json")) {
      std::cout << context.out.dump(2) << "\n";
    } else {
      std::cout << context.text;
    }
    std::cout.flush();
  }
  return s.ok() ? 0 : Fail(s);
}

}  // namespace

std::string ManPage() {
  std::string s =
      ".\\\" Generated by `sef-cli --man` from the table of commands "
      "(tools/sef_cli/commands.cc); do not edit.\n"
      ".TH SEF\\-CLI 1 \"\" \"sef\" \"User Commands\"\n"
      ".SH NAME\nsef\\-cli \\- administer Software\\-Enabled Flash units, virtual devices, QoS "
      "domains, zoned namespaces and block FTL domains\n"
      ".SH SYNOPSIS\n.B sef\\-cli\n.I action target\n.RI [ options ]\n.br\n"
      ".B sef\\-cli\n.BR \\-\\-help \" | \" \\-\\-version \" | \" \\-\\-man \" | \" "
      "\"\\-\\-completion bash\"\n"
      ".SH DESCRIPTION\n"
      "Commands take the public SEF SDK's form, an action then a target; unique prefixes of "
      "both are accepted (\\fBsef\\-cli li q\\fR = \\fBsef\\-cli list qos\\-domain\\fR). Output "
      "is text, or JSON with \\fB\\-\\-json\\fR. Errors are one line on standard error.\n"
      ".SH GLOBAL OPTIONS\n" +
      ManOptions(GlobalOptions()) + ".SH COMMANDS\n";
  for (const CommandSpec& c : Commands()) {
    s +=
        absl::StrFormat(".SS \"%s %s\"\n%s.\n", Troff(c.action), Troff(c.target), Troff(c.summary));
    s += ManOptions(c.options);
  }
  s += ".SH EXIT STATUS\n0 the command succeeded; 1 the operation failed (the unit, a device "
       "or a layer refused it); 2 usage (an unknown command or option, a value that does not "
       "parse).\n"
       ".SH EXAMPLES\n.nf\n"
       "sef\\-cli create virtual\\-device \\-u model:unit.json:unit.sef \\-\\-channels 2 "
       "\\-\\-banks 2 \\-\\-count 4\n"
       "sef\\-cli create qos\\-domain \\-u /dev/nvme0 \\-v 1 \\-\\-capacity 50% \\-\\-label "
       "\"1 2\"\n"
       "sef\\-cli list qos\\-domain \\-u /dev/nvme0 \\-\\-json\n"
       "sef\\-cli configure zns \\-u 0 \\-l \"1 2\"\n"
       "sef\\-cli report zns \\-u 0 \\-q 1\n"
       "sef\\-cli configure ftl \\-u /dev/nvme0 \\-q 2 \\-\\-overprovisioning 12.5\n"
       "sef\\-cli info ftl \\-u /dev/nvme0 \\-q 2 \\-\\-json\n"
       "sef\\-cli check ftl \\-u /dev/nvme0 \\-q 2 \\-\\-repair\n.fi\n"
       ".SH SEE ALSO\n\\fBblkzone\\fR(8), docs/sef\\-cli.md\n";
  return s;
}

std::string BashCompletion() {
  std::string s =
      "# bash completion for sef-cli. Generated by `sef-cli --completion bash` from the table "
      "of\n# commands (tools/sef_cli/commands.cc); do not edit.\n"
      "_sef_cli() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} words\n"
      "  if [[ $COMP_CWORD -eq 1 ]]; then\n"
      "    words=\"" +
      absl::StrJoin(Actions(), " ") +
      " --help --version --man --completion\"\n"
      "  elif [[ $COMP_CWORD -eq 2 ]]; then\n"
      "    case ${COMP_WORDS[1]} in\n";
  for (const std::string& a : Actions()) {
    s += absl::StrFormat("      %s) words=\"%s\" ;;\n", a, absl::StrJoin(Targets(a), " "));
  }
  s += "    esac\n"
       "  else\n"
       "    case \"${COMP_WORDS[1]} ${COMP_WORDS[2]}\" in\n";
  std::vector<std::string> global;
  for (const OptionSpec& o : GlobalOptions()) global.push_back(absl::StrCat("--", o.name));
  for (const CommandSpec& c : Commands()) {
    std::vector<std::string> words = global;
    for (const OptionSpec& o : c.options) words.push_back(absl::StrCat("--", o.name));
    s += absl::StrFormat("      \"%s %s\") words=\"%s\" ;;\n", c.action, c.target,
                         absl::StrJoin(words, " "));
  }
  s += "    esac\n"
       "  fi\n"
       "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
       "}\n"
       "complete -F _sef_cli sef-cli\n";
  return s;
}

}  // namespace sef::cli

int main(int argc, char** argv) { return sef::cli::Main(argc, argv); }
