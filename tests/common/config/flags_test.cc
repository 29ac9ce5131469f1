#include "common/config/flags.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// A flag type that explains its rejections, as coffer's own flag types do.
namespace coffer::config::flags_test {
struct EvenNumber {
  int value = 0;
};
bool AbslParseFlag(absl::string_view text, EvenNumber* number, std::string* error) {
  if (!absl::SimpleAtoi(text, &number->value) || number->value % 2 != 0) {
    *error = "must be an even number";
    return false;
  }
  return true;
}
std::string AbslUnparseFlag(EvenNumber number) { return absl::StrCat(number.value); }
}  // namespace coffer::config::flags_test

// Flags as a service would define them; being in the project's sources, they
// get environment fallbacks.
ABSL_FLAG(int, test_port, 8080, "Port to serve on | for tests.");
ABSL_FLAG(std::string, test_listen, "127.0.0.1:0", "Address to listen on.");
ABSL_FLAG(bool, test_debug, false, "Report slow handlers.");
ABSL_FLAG(std::string, test_db_key_file, "", "File holding the database key.");
ABSL_FLAG(coffer::config::flags_test::EvenNumber, test_even, {}, "An even number.");

namespace coffer::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Builds a mutable argv, as main() receives it.
class Argv {
 public:
  explicit Argv(std::vector<std::string> args) : args_(std::move(args)) {
    for (std::string& arg : args_) pointers_.push_back(arg.data());
    pointers_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(args_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> pointers_;
};

class FlagsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* var : {"COFFER_TEST_PORT", "COFFER_TEST_LISTEN", "COFFER_TEST_DEBUG",
                            "COFFER_TEST_DB_KEY_FILE"}) {
      unsetenv(var);
    }
  }

  // Restores every flag's value when the test ends.
  absl::FlagSaver flag_saver_;
};

TEST(EnvVarForFlagTest, PrefixesAndUpperCases) {
  EXPECT_EQ(EnvVarForFlag("listen"), "COFFER_LISTEN");
  EXPECT_EQ(EnvVarForFlag("db_key_file"), "COFFER_DB_KEY_FILE");
}

TEST(ProjectFlagsTest, ListsOnlyFlagsFromProjectSources) {
  std::vector<std::string> names;
  for (const absl::CommandLineFlag* flag : ProjectFlags()) names.emplace_back(flag->Name());
  EXPECT_THAT(names, ::testing::IsSupersetOf({"test_debug", "test_listen", "test_port"}));
  EXPECT_THAT(names, Not(::testing::Contains("flagfile")));
  EXPECT_THAT(names, Not(::testing::Contains("fromenv")));
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));

  const absl::CommandLineFlag* flagfile = absl::FindCommandLineFlag("flagfile");
  ASSERT_NE(flagfile, nullptr);
  EXPECT_FALSE(IsProjectFlag(*flagfile)) << flagfile->Filename();
}

TEST_F(FlagsTest, EnvironmentSetsFlags) {
  setenv("COFFER_TEST_PORT", "9000", 1);
  setenv("COFFER_TEST_DEBUG", "1", 1);
  setenv("COFFER_TEST_DB_KEY_FILE", "/run/secrets/db_key", 1);

  ASSERT_TRUE(ApplyEnvironmentFallbacks().ok());

  EXPECT_EQ(absl::GetFlag(FLAGS_test_port), 9000);
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_debug));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_db_key_file), "/run/secrets/db_key");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "127.0.0.1:0");
}

TEST_F(FlagsTest, EmptyVariableCountsAsUnset) {
  setenv("COFFER_TEST_LISTEN", "", 1);
  setenv("COFFER_TEST_PORT", "", 1);

  ASSERT_TRUE(ApplyEnvironmentFallbacks().ok());

  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "127.0.0.1:0");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_port), 8080);
}

TEST_F(FlagsTest, BadValueNamesVariableAndFlagAndOthersStillApply) {
  setenv("COFFER_TEST_PORT", "eighty", 1);
  setenv("COFFER_TEST_DEBUG", "maybe", 1);
  setenv("COFFER_TEST_LISTEN", "0.0.0.0:50051", 1);

  const absl::Status status = ApplyEnvironmentFallbacks();

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("COFFER_TEST_PORT=eighty is not a valid value for "
                        "--test_port"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("COFFER_TEST_DEBUG=maybe is not a valid value for "
                        "--test_debug"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\n")));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("Illegal value")));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_port), 8080);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "0.0.0.0:50051");
}

TEST_F(FlagsTest, BadValueKeepsTheFlagTypesExplanation) {
  setenv("COFFER_TEST_EVEN", "3", 1);

  const absl::Status status = ApplyEnvironmentFallbacks();

  EXPECT_EQ(status.message(),
            "COFFER_TEST_EVEN=3 is not a valid value for --test_even: must be an even number");
}

// ParseCommandLine may run once per process (Abseil exits if the usage
// message is set twice) and exits on errors, so each case runs it in a child
// process and reports through the exit code.
using ParseCommandLineDeathTest = FlagsTest;

TEST_F(ParseCommandLineDeathTest, CommandLineWinsOverEnvironment) {
  setenv("COFFER_TEST_PORT", "9000", 1);
  setenv("COFFER_TEST_LISTEN", "from-env:1", 1);
  Argv args({"server", "--test_listen=from-cli:2", "positional"});

  EXPECT_EXIT(
      {
        const std::vector<char*> rest = ParseCommandLine(args.argc(), args.argv(), "test server");
        const bool ok = absl::GetFlag(FLAGS_test_port) == 9000 &&
                        absl::GetFlag(FLAGS_test_listen) == "from-cli:2" && rest.size() == 2 &&
                        std::string(rest[1]) == "positional";
        std::fprintf(stderr, "port=%d listen=%s\n", absl::GetFlag(FLAGS_test_port),
                     absl::GetFlag(FLAGS_test_listen).c_str());
        std::exit(ok ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "port=9000 listen=from-cli:2");
}

TEST_F(ParseCommandLineDeathTest, CommandLineValueEqualToDefaultStillWins) {
  setenv("COFFER_TEST_PORT", "9000", 1);
  Argv args({"server", "--test_port=8080"});

  EXPECT_EXIT(
      {
        ParseCommandLine(args.argc(), args.argv(), "test server");
        std::exit(absl::GetFlag(FLAGS_test_port) == 8080 ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(ParseCommandLineDeathTest, BadEnvironmentValueExitsWithOneLine) {
  setenv("COFFER_TEST_PORT", "eighty", 1);
  Argv args({"server"});

  EXPECT_EXIT(ParseCommandLine(args.argc(), args.argv(), "test server"),
              ::testing::ExitedWithCode(1),
              "^server: COFFER_TEST_PORT=eighty is not a valid value for --test_port\n$");
}

TEST(FlagReferenceMarkdownTest, OneRowPerProjectFlag) {
  const std::string table = FlagReferenceMarkdown();

  EXPECT_THAT(table, ::testing::StartsWith("| Flag | Environment variable | Default | "
                                           "Description |\n| --- | --- | --- | --- |\n"));
  EXPECT_THAT(table, HasSubstr("| `--test_port` | `COFFER_TEST_PORT` | `8080` | "
                               "Port to serve on \\| for tests. |\n"));
  EXPECT_THAT(table, HasSubstr("| `--test_db_key_file` | `COFFER_TEST_DB_KEY_FILE` | `\"\"` | "
                               "File holding the database key. |\n"));
  EXPECT_THAT(table, Not(HasSubstr("flagfile")));
}

TEST_F(FlagsTest, OnlyTheNamedFlagsReadTheEnvironmentWhenNamed) {
  setenv("COFFER_TEST_PORT", "9090", 1);
  setenv("COFFER_TEST_LISTEN", "0.0.0.0:1", 1);

  ASSERT_TRUE(ApplyEnvironmentFallbacks({.only = {"test_port"}}).ok());

  EXPECT_EQ(absl::GetFlag(FLAGS_test_port), 9090);
  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "127.0.0.1:0");
  const std::string table = FlagReferenceMarkdown(FlagSet::kOwn, {.only = {"test_port"}});
  EXPECT_THAT(table, HasSubstr("| `--test_port` | `COFFER_TEST_PORT` |"));
  EXPECT_THAT(table, HasSubstr("| `--test_listen` | - |"));
}

// The test's flags are defined under tests/, the parser's own under common/:
// a binary's own table holds the former, the shared table the latter.
TEST(FlagReferenceMarkdownTest, SharedAndOwnSplitByWhereAFlagIsDefined) {
  const std::string own = FlagReferenceMarkdown(FlagSet::kOwn);
  const std::string shared = FlagReferenceMarkdown(FlagSet::kShared);

  EXPECT_THAT(own, HasSubstr("`--test_port`"));
  EXPECT_THAT(own, Not(HasSubstr("`--flags_markdown`")));
  EXPECT_THAT(shared, HasSubstr("`--flags_markdown`"));
  EXPECT_THAT(shared, Not(HasSubstr("`--test_port`")));
}

}  // namespace
}  // namespace coffer::config
