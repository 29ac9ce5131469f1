// Every cofferctl command is complete: it says what it does, every flag it
// lists exists in the binary (a listed but undefined flag would be a help
// line and a usage check for nothing), no two commands share their words,
// and `cofferctl <command> --help` answers with the command's own usage.
#include "tools/cofferctl/command_list.h"

#include <set>
#include <string>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "tests/tools/cofferctl/cofferctl_runner.h"

namespace coffer::testing {
namespace {

using cofferctl::AllCommands;
using cofferctl::Command;
using cofferctl::CommandName;

TEST(CommandListTest, EveryCommandIsDescribedAndListsOnlyDefinedFlags) {
  std::set<std::string> names;
  for (const Command& command : AllCommands()) {
    const std::string name = CommandName(command);
    EXPECT_TRUE(names.insert(name).second) << name << " is listed twice";
    EXPECT_FALSE(command.summary.empty()) << name;
    EXPECT_FALSE(command.details.empty()) << name;
    EXPECT_TRUE(command.run != nullptr) << name;
    for (const std::string& flag : command.flags) {
      EXPECT_NE(absl::FindCommandLineFlag(flag), nullptr) << name << " lists --" << flag;
    }
  }
  // The list (7), each present.
  for (const char* expected :
       {"status", "accounts add", "accounts rm", "accounts ls", "balances", "portfolio", "history",
        "prices", "tasks ls", "tasks create", "tasks pause", "tasks resume", "tasks trigger",
        "tasks rm", "runs ls", "runs watch", "query", "metrics"}) {
    EXPECT_TRUE(names.count(expected)) << expected;
  }
}

TEST(CommandListTest, HelpOfEveryCommandIsItsOwn) {
  for (const Command& command : AllCommands()) {
    std::vector<std::string> args = command.words;
    args.push_back("--help");
    CommandOutput output = RunCofferctl(args);
    const std::string name = CommandName(command);
    EXPECT_EQ(output.exit_code, 0) << name << ": " << output.stderr_text;
    EXPECT_TRUE(absl::StartsWith(output.stdout_text, absl::StrCat("Usage: cofferctl ", name)))
        << output.stdout_text;
    for (const std::string& flag : command.flags) {
      EXPECT_TRUE(absl::StrContains(output.stdout_text, absl::StrCat("--", flag)))
          << name << " --help does not describe --" << flag;
    }
  }
}

}  // namespace
}  // namespace coffer::testing
