#include "tools/cofferctl/command.h"

#include <algorithm>
#include <set>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace coffer::cofferctl {
namespace {

constexpr absl::string_view kUsagePayload = "coffer.cofferctl/usage";

// "  --account=<value>   help (default: x)" lines for `names`.
std::string FlagLines(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      absl::StrAppend(&text, "  --", name, "  (undefined flag: a bug in cofferctl)\n");
      continue;
    }
    std::string usage = absl::StrCat("--", name);
    absl::StrAppend(&text, "  ", usage, std::string(usage.size() < 14 ? 14 - usage.size() : 1, ' '),
                    flag->Help());
    const std::string value = flag->DefaultValue();
    if (!value.empty() && value != "false" && value != "0") {
      absl::StrAppend(&text, " (default: ", value, ")");
    }
    absl::StrAppend(&text, "\n");
  }
  return text;
}

std::string UsageLine(const Command& command) {
  std::string line = absl::StrCat("cofferctl ", CommandName(command));
  if (!command.flags.empty()) absl::StrAppend(&line, " [flags]");
  if (!command.arguments.empty()) absl::StrAppend(&line, " ", command.arguments);
  return line;
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

std::string CommandName(const Command& command) { return absl::StrJoin(command.words, " "); }

const Command* FindCommand(const std::vector<Command>& commands,
                           const std::vector<std::string>& args, size_t* matched) {
  const Command* best = nullptr;
  size_t best_words = 0;
  for (const Command& command : commands) {
    const size_t n = command.words.size();
    if (n > args.size() || n <= best_words) continue;
    if (std::equal(command.words.begin(), command.words.end(), args.begin())) {
      best = &command;
      best_words = n;
    }
  }
  if (matched != nullptr) *matched = best_words;
  return best;
}

const std::vector<std::string>& CommonFlags() {
  static const auto* const kFlags = new std::vector<std::string>{
      "fetcher", "storage",  "scheduler", "output",          "timeout",
      "tls_ca",  "tls_cert", "tls_key",   "tls_server_name", "token_file"};
  return *kFlags;
}

std::string OverviewHelp(const std::vector<Command>& commands) {
  std::string text =
      "cofferctl: the command-line client of a coffer stack.\n\n"
      "Usage: cofferctl [flags] <command> [arguments]\n\nCommands:\n";
  size_t width = 0;
  for (const Command& command : commands) width = std::max(width, CommandName(command).size());
  for (const Command& command : commands) {
    const std::string name = CommandName(command);
    absl::StrAppend(&text, "  ", name, std::string(width - name.size() + 2, ' '), command.summary,
                    "\n");
  }
  absl::StrAppend(&text, "\nFlags of every command:\n", FlagLines(CommonFlags()),
                  "\nThese also read COFFER_<FLAG> from the environment (COFFER_STORAGE,\n"
                  "COFFER_OUTPUT, ...); the command line wins. `cofferctl <command> --help`\n"
                  "describes one command. Exit status: 0 done, 1 failed, 2 usage error.\n");
  return text;
}

std::string CommandHelp(const Command& command) {
  std::string text = absl::StrCat("Usage: ", UsageLine(command), "\n\n", command.summary, "\n");
  if (!command.details.empty()) {
    absl::StrAppend(&text, "\n", absl::StripTrailingAsciiWhitespace(command.details), "\n");
  }
  if (!command.flags.empty()) absl::StrAppend(&text, "\nFlags:\n", FlagLines(command.flags));
  absl::StrAppend(&text, "\nFlags of every command:\n", FlagLines(CommonFlags()));
  return text;
}

std::string GroupHelp(const std::vector<Command>& commands, absl::string_view prefix) {
  std::string text;
  for (const Command& command : commands) {
    if (command.words.empty() || command.words[0] != prefix) continue;
    absl::StrAppend(&text, "  ", UsageLine(command), "\n      ", command.summary, "\n");
  }
  if (text.empty()) return text;
  return absl::StrCat("Commands of cofferctl ", prefix, ":\n", text, "\n`cofferctl ", prefix,
                      " <command> --help` describes one.\n");
}

std::vector<std::string> ForeignFlags(const Command& command,
                                      const std::vector<std::string>& argv) {
  std::set<std::string> allowed(command.flags.begin(), command.flags.end());
  allowed.insert(CommonFlags().begin(), CommonFlags().end());
  // Abseil's own (--flagfile, --fromenv, ...) stay available.
  for (const char* name : {"flagfile", "fromenv", "tryfromenv", "undefok", "help"}) {
    allowed.insert(name);
  }
  std::vector<std::string> foreign;
  for (const std::string& arg : argv) {
    if (arg == "--") break;
    absl::string_view name = arg;
    if (!absl::ConsumePrefix(&name, "--") && !absl::ConsumePrefix(&name, "-")) continue;
    if (name.empty()) continue;
    name = name.substr(0, name.find('='));
    std::string flag_name(name);
    // --noX is Abseil's X=false for a boolean flag X: judged as X.
    if (absl::FindCommandLineFlag(flag_name) == nullptr && absl::StartsWith(name, "no")) {
      const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(std::string(name.substr(2)));
      if (flag != nullptr && flag->IsOfType<bool>()) flag_name = std::string(name.substr(2));
    }
    if (!allowed.count(flag_name) && absl::FindCommandLineFlag(flag_name) != nullptr) {
      foreign.push_back(flag_name);
    }
  }
  return foreign;
}

}  // namespace coffer::cofferctl
