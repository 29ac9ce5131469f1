#include "common/config/flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

ABSL_FLAG(bool, flags_markdown, false,
          "Print this binary's own flags (not the shared ones) as a Markdown table and exit");

namespace coffer::config {
namespace {

constexpr absl::string_view kEnvPrefix = "COFFER_";

// Makes `text` safe inside one cell of a Markdown table: a '|' would end the
// cell and a newline the row.
std::string MarkdownCell(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\r\n", " "}, {"\n", " "}});
}

std::string MarkdownDefault(absl::string_view value) {
  if (value.empty()) return "`\"\"`";
  return absl::StrCat("`", MarkdownCell(value), "`");
}

// "COFFER_PORT=x is not a valid value for --port", followed by the flag
// type's explanation if it gave one. Abseil's own message repeats the value
// and flag ("Illegal value 'x' specified for flag 'port'") before any
// explanation, so that part is dropped.
std::string EnvironmentError(absl::string_view var, absl::string_view value,
                             absl::string_view flag_name, absl::string_view abseil_error) {
  // Escaped so a stray newline in the environment cannot split the line.
  std::string message =
      absl::StrCat(var, "=", absl::CHexEscape(value), " is not a valid value for --", flag_name);
  const std::string restated =
      absl::StrCat("Illegal value '", value, "' specified for flag '", flag_name, "'");
  absl::string_view detail = abseil_error;
  if (absl::ConsumePrefix(&detail, restated)) absl::ConsumePrefix(&detail, "; ");
  if (!detail.empty()) absl::StrAppend(&message, ": ", detail);
  return message;
}

}  // namespace

std::string EnvVarForFlag(absl::string_view flag_name) {
  return absl::StrCat(kEnvPrefix, absl::AsciiStrToUpper(flag_name));
}

bool IsProjectFlag(const absl::CommandLineFlag& flag) {
  const std::string file = flag.Filename();
  return !absl::StartsWith(file, "/usr/") && !absl::StrContains(file, "absl/");
}

std::vector<absl::CommandLineFlag*> ProjectFlags() {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!flag->IsRetired() && IsProjectFlag(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const absl::CommandLineFlag* a, const absl::CommandLineFlag* b) {
              return a->Name() < b->Name();
            });
  return flags;
}

bool EnvironmentFallbacks::Covers(absl::string_view flag_name) const {
  return only.empty() || std::find(only.begin(), only.end(), flag_name) != only.end();
}

absl::Status ApplyEnvironmentFallbacks(const EnvironmentFallbacks& environment) {
  std::vector<std::string> errors;
  for (absl::CommandLineFlag* flag : ProjectFlags()) {
    if (!environment.Covers(flag->Name())) continue;
    const std::string var = EnvVarForFlag(flag->Name());
    const char* value = std::getenv(var.c_str());
    if (value == nullptr || *value == '\0') continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      errors.push_back(EnvironmentError(var, value, flag->Name(), error));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

std::vector<char*> ParseCommandLine(int argc, char** argv, absl::string_view usage) {
  return ParseCommandLine(argc, argv, usage, EnvironmentFallbacks());
}

std::vector<char*> ParseCommandLine(int argc, char** argv, absl::string_view usage,
                                    const EnvironmentFallbacks& environment) {
  absl::SetProgramUsageMessage(usage);
  // --help lists the project's flags (Abseil's default lists only those
  // defined in the file holding main(), which here are none).
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view path) {
    return !absl::StartsWith(path, "/") && !absl::StrContains(path, "absl/");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  // Environment first, so that parsing argv afterwards overwrites it: the
  // command line wins without asking Abseil which flags it saw.
  const absl::Status env_status = ApplyEnvironmentFallbacks(environment);
  // --help and malformed command lines are reported before the environment:
  // --help must work even in a broken environment.
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_flags_markdown)) {
    std::fputs(FlagReferenceMarkdown(FlagSet::kOwn, environment).c_str(), stdout);
    std::exit(0);
  }
  if (!env_status.ok()) {
    std::fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "coffer",
                 std::string(env_status.message()).c_str());
    std::exit(1);
  }
  return args;
}

std::string FlagReferenceMarkdown(FlagSet set, const EnvironmentFallbacks& environment) {
  std::string table =
      "| Flag | Environment variable | Default | Description |\n"
      "| --- | --- | --- | --- |\n";
  for (const absl::CommandLineFlag* flag : ProjectFlags()) {
    const bool shared = absl::StartsWith(flag->Filename(), "common/");
    if ((set == FlagSet::kShared && !shared) || (set == FlagSet::kOwn && shared)) continue;
    const std::string variable = environment.Covers(flag->Name())
                                     ? absl::StrCat("`", EnvVarForFlag(flag->Name()), "`")
                                     : "-";
    absl::StrAppend(&table, "| `--", flag->Name(), "` | ", variable, " | ",
                    MarkdownDefault(flag->DefaultValue()), " | ", MarkdownCell(flag->Help()),
                    " |\n");
  }
  return table;
}

}  // namespace coffer::config
