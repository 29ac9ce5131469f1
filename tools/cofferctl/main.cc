// cofferctl: the command-line client of a coffer stack. Each command group
// lives in its own file (*_command(s).cc) and is listed in AllCommands();
// this file parses the command line, finds the command, checks its flags,
// runs it and turns its result into output and an exit status.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "common/client/coffer_client.h"
#include "common/config/flags.h"
#include "common/grpc/auth/bearer_token.h"
#include "common/grpc/channel.h"
#include "tools/cofferctl/command.h"
#include "tools/cofferctl/command_list.h"
#include "tools/cofferctl/flags.h"
#include "tools/cofferctl/output.h"

namespace {

using coffer::cofferctl::Command;

constexpr char kUsage[] =
    "the command-line client of a coffer stack. `cofferctl --help` lists the commands.";

bool IsHelpArgument(const std::string& arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--h";
}

}  // namespace

int main(int argc, char** argv) {
  // --help belongs to the command it follows, so it is taken out before
  // Abseil (which would print every flag of the binary) sees it.
  std::vector<std::string> original(argv + 1, argv + argc);
  std::vector<char*> kept = {argv[0]};
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      kept.insert(kept.end(), argv + i, argv + argc);
      break;
    }
    if (IsHelpArgument(arg)) {
      help = true;
    } else {
      kept.push_back(argv[i]);
    }
  }
  // Only the common flags read COFFER_<FLAG>: an exported COFFER_TASK or
  // COFFER_LIMIT must not quietly narrow every later command.
  std::vector<char*> parsed =
      coffer::config::ParseCommandLine(static_cast<int>(kept.size()), kept.data(), kUsage,
                                       {.only = coffer::cofferctl::CommonFlags()});
  std::vector<std::string> positional(parsed.begin() + 1, parsed.end());
  const std::vector<Command> commands = coffer::cofferctl::AllCommands();

  if (positional.empty()) {
    std::cout << coffer::cofferctl::OverviewHelp(commands);
    return help ? 0 : 2;
  }
  size_t matched = 0;
  const Command* command = coffer::cofferctl::FindCommand(commands, positional, &matched);
  if (command == nullptr) {
    const std::string group = coffer::cofferctl::GroupHelp(commands, positional[0]);
    if (!group.empty()) {
      if (help) {
        std::cout << group;
        return 0;
      }
      std::cerr << "cofferctl " << positional[0] << ": "
                << (positional.size() > 1 ? "unknown command " + positional[1]
                                          : std::string("which command?"))
                << "\n"
                << group;
      return 2;
    }
    std::cerr << "cofferctl: unknown command \"" << positional[0] << "\"; see cofferctl --help\n";
    return 2;
  }
  const std::string name = coffer::cofferctl::CommandName(*command);
  if (help) {
    std::cout << coffer::cofferctl::CommandHelp(*command);
    return 0;
  }
  std::vector<std::string> foreign = coffer::cofferctl::ForeignFlags(*command, original);
  if (!foreign.empty()) {
    std::cerr << "cofferctl " << name << ": --" << absl::StrJoin(foreign, ", --")
              << (foreign.size() == 1 ? " is not a flag" : " are not flags")
              << " of this command; see cofferctl " << name << " --help\n";
    return 2;
  }
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output != "table" && output != "json") {
    std::cerr << "cofferctl: --output must be table or json, not \"" << output << "\"\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_timeout) <= absl::ZeroDuration()) {
    std::cerr << "cofferctl: --timeout must be positive\n";
    return 2;
  }

  absl::StatusOr<coffer::grpc_util::ChannelSecurity> security =
      coffer::grpc_util::MakeChannelSecurity({.cert_file = absl::GetFlag(FLAGS_tls_cert),
                                              .key_file = absl::GetFlag(FLAGS_tls_key),
                                              .ca_file = absl::GetFlag(FLAGS_tls_ca)},
                                             absl::GetFlag(FLAGS_tls_server_name));
  if (!security.ok()) {
    std::cerr << "cofferctl: " << security.status().message() << "\n";
    return 2;
  }

  // The message names the file, never its contents (bearer_token.h).
  std::string token;
  if (const std::string token_file = absl::GetFlag(FLAGS_token_file); !token_file.empty()) {
    absl::StatusOr<std::string> read = coffer::grpc_util::auth::ReadBearerToken(token_file);
    if (!read.ok()) {
      std::cerr << "cofferctl: " << read.status().message() << "\n";
      return 2;
    }
    token = *std::move(read);
  }

  coffer::client::CofferClient coffer({.fetcher = absl::GetFlag(FLAGS_fetcher),
                                       .storage = absl::GetFlag(FLAGS_storage),
                                       .scheduler = absl::GetFlag(FLAGS_scheduler)},
                                      absl::GetFlag(FLAGS_timeout), *std::move(security),
                                      std::move(token));
  coffer::cofferctl::CommandContext ctx{
      .coffer = coffer,
      .output = output == "json" ? coffer::cofferctl::OutputFormat::kJson
                                 : coffer::cofferctl::OutputFormat::kTable,
      .timeout = absl::GetFlag(FLAGS_timeout),
      .args = std::vector<std::string>(positional.begin() + matched, positional.end()),
      .out = std::cout,
      .err = std::cerr,
      .interactive = isatty(STDERR_FILENO) == 1,
  };
  absl::Status status = command->run(ctx);
  std::cout.flush();
  if (coffer::cofferctl::IsUsageError(status)) {
    std::cerr << "cofferctl " << name << ": " << status.message() << "\nsee cofferctl " << name
              << " --help\n";
    return 2;
  }
  if (!status.ok()) {
    std::cerr << "cofferctl " << name << ": " << coffer::cofferctl::ErrorLine(status) << "\n";
    return 1;
  }
  return ctx.exit_code;
}
