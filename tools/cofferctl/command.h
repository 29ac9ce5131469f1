// A cofferctl subcommand: its words ("accounts add"), what it does, the
// flags it reads, and the function that runs it.
//
// Flags are Abseil flags and so global to the binary; a command lists the
// ones it reads, which is what its --help shows and what the dispatcher
// accepts on its command line (`cofferctl accounts ls --asset X` is a usage
// error, not a silently ignored flag). Common flags (service addresses,
// --output, --timeout) are accepted everywhere.
//
// A command returns OK (exit 0), a UsageError (exit 2, with the command's
// usage line) or any other error (exit 1); it may set `exit_code` for a
// result that is an answer but not a success (a service not SERVING, a
// triggered run that failed).
#ifndef COFFER_TOOLS_COFFERCTL_COMMAND_H_
#define COFFER_TOOLS_COFFERCTL_COMMAND_H_

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "common/client/coffer_client.h"

namespace coffer::cofferctl {

enum class OutputFormat { kTable, kJson };

struct CommandContext {
  client::CofferClient& coffer;
  OutputFormat output = OutputFormat::kTable;
  // --timeout: the deadline of each call.
  absl::Duration timeout;
  // The positional arguments after the command's words.
  std::vector<std::string> args;
  std::ostream& out;
  std::ostream& err;
  // Whether stderr is a terminal: progress bars are drawn only then.
  bool interactive = false;
  // Set by the command for an answer that is not a success; 0 otherwise.
  int exit_code = 0;
};

struct Command {
  // {"accounts", "add"}; a command of one word has one.
  std::vector<std::string> words;
  // The positional arguments, for the usage line ("ADDRESS... | -").
  std::string arguments;
  // One line for the command list.
  std::string summary;
  // More for `--help`: what it prints, examples. May be empty.
  std::string details;
  // Names of the flags it reads, without "--".
  std::vector<std::string> flags;
  std::function<absl::Status(CommandContext&)> run;
};

// INVALID_ARGUMENT marked as a mistake on the command line (exit 2), as
// opposed to INVALID_ARGUMENT from a service (exit 1).
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

// "accounts add".
std::string CommandName(const Command& command);

// The command whose words start `args` (longest match), or null.
// `matched` gets the number of words taken.
const Command* FindCommand(const std::vector<Command>& commands,
                           const std::vector<std::string>& args, size_t* matched);

// The top-level help: usage, the commands by group, the common flags.
std::string OverviewHelp(const std::vector<Command>& commands);
// One command's help: usage line, summary, details, its flags with their
// help texts and defaults, and the common flags.
std::string CommandHelp(const Command& command);
// The commands that start with `prefix` ("accounts" -> add, rm, ls), for
// `cofferctl accounts --help` and an incomplete command.
std::string GroupHelp(const std::vector<Command>& commands, absl::string_view prefix);

// The flags given on `argv` (names, "--no" prefixes of booleans resolved)
// that `command` does not read and that are not common: empty when none.
std::vector<std::string> ForeignFlags(const Command& command, const std::vector<std::string>& argv);

// The flags every command accepts.
const std::vector<std::string>& CommonFlags();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_COMMAND_H_
