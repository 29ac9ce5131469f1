// Command-line flags with environment fallbacks.
//
// Every flag defined in coffer's own code can also be set through an
// environment variable named after it: `--listen` from `COFFER_LISTEN`,
// `--db_key_file` from `COFFER_DB_KEY_FILE`. The command line always wins, so
// a container image can carry defaults in its environment and an operator can
// still override one flag by hand. Flags that belong to libraries (Abseil's
// own `--flagfile`, `--help`, ...) get no fallback.
//
// Usage, at the top of every main():
//
//   int main(int argc, char** argv) {
//     std::vector<char*> args = coffer::config::ParseCommandLine(
//         argc, argv, "storage: the coffer storage service");
//     ...
//   }
//
// Precedence, lowest first: the flag's default, its environment variable,
// then the command line (including --flagfile). An environment variable that
// is set but empty counts as unset, so `COFFER_LISTEN=` in a compose file does
// not clear a default. A value its flag rejects is a startup error even when
// the command line also sets that flag: a broken environment is a deployment
// bug worth hearing about before it bites elsewhere.
#ifndef COFFER_COMMON_CONFIG_FLAGS_H_
#define COFFER_COMMON_CONFIG_FLAGS_H_

#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace coffer::config {

// Which project flags read COFFER_<FLAG> from the environment: every one
// (the services, which a container's environment configures), or only the
// ones named (cofferctl: its service addresses and output format, never a
// command's own flags, which an exported variable would otherwise set behind
// a person's back on every later command).
struct EnvironmentFallbacks {
  // Empty: every project flag.
  std::vector<std::string> only = {};
  bool Covers(absl::string_view flag_name) const;
};

// Parses the process's flags: sets the usage message shown by --help, applies
// environment fallbacks, then parses argv with absl::ParseCommandLine (which
// handles --help and exits on unknown or malformed flags). With
// --flags_markdown it prints FlagReferenceMarkdown(FlagSet::kOwn) and exits
// 0 (the README's per-binary tables). Returns argv[0]
// followed by the positional arguments. If an environment value is rejected
// by its flag, prints one line naming each bad variable and its flag to
// stderr and exits with status 1.
// Call once, from main(), before any other thread starts.
//
// `environment` narrows which flags read the environment (default: all).
std::vector<char*> ParseCommandLine(int argc, char** argv, absl::string_view usage,
                                    const EnvironmentFallbacks& environment);
std::vector<char*> ParseCommandLine(int argc, char** argv, absl::string_view usage);

// Sets each project flag whose environment variable is set and non-empty.
// Flags whose values parse are set even when others fail; the result is
// INVALID_ARGUMENT listing every variable whose value its flag rejected, on
// one line: "COFFER_PORT=abc is not a valid value for --port; COFFER_LOG_LEVEL=
// loud is not a valid value for --log_level: unknown log level ...".
// ParseCommandLine() calls this before parsing argv; public for tests and tools.
[[nodiscard]] absl::Status ApplyEnvironmentFallbacks(const EnvironmentFallbacks& environment = {});

// The environment variable that supplies `flag_name`: "COFFER_" followed by
// the name in upper case ("db_key_file" -> "COFFER_DB_KEY_FILE").
std::string EnvVarForFlag(absl::string_view flag_name);

// Whether `flag` is defined in coffer's own sources rather than in a library.
// Bazel records project files by their workspace-relative path, system
// libraries by an absolute one under /usr.
bool IsProjectFlag(const absl::CommandLineFlag& flag);

// All live (not retired) project flags linked into this binary, by name.
std::vector<absl::CommandLineFlag*> ProjectFlags();

// Which of ProjectFlags() a reference lists: the flags every binary shares
// (defined under common/), a binary's own (defined anywhere else), or all.
enum class FlagSet { kAll, kShared, kOwn };

// A Markdown table of ProjectFlags() in `set`: flag, environment variable,
// default and help text, one row per flag. The README's configuration
// reference is generated from it so it cannot drift from the code.
// A flag `environment` does not cover shows "-" as its variable.
std::string FlagReferenceMarkdown(FlagSet set = FlagSet::kAll,
                                  const EnvironmentFallbacks& environment = {});

}  // namespace coffer::config

#endif  // COFFER_COMMON_CONFIG_FLAGS_H_
