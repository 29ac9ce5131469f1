// cofferctl's bearer token (--token_file, COFFER_TOKEN_FILE) against a real
// coffer-storage started with --auth_tokens_file: no token or an unknown one
// is UNAUTHENTICATED, a read token lists but may not add, an admin token
// adds, an unusable token file is a usage error, and the token itself never
// shows in what cofferctl prints.
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "tests/integration/integration_test_base.h"
#include "tests/integration/service_process.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"

namespace coffer::testing {
namespace {

// Distinctive, so a leak into cofferctl's output cannot be a coincidence.
constexpr char kAdminToken[] = "admin-token-5f0c1e9a7b3d48e2a6c4b1d9e8f7a6b5";
constexpr char kReadToken[] = "read-token-93b1d7c2e4f6a8b0c2d4e6f8a0b2c4d6";
constexpr char kAccount[] = "eip155:1:0x1111111111111111111111111111111111111111";

class CofferctlTokensTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    IntegrationTestBase::SetUp();
    const std::string tokens =
        WriteFile("tokens", absl::StrCat("# role token name\nadmin ", kAdminToken, " ops\nread ",
                                         kReadToken, " dashboards\n"));
    admin_file_ = WriteFile("admin.token", absl::StrCat(kAdminToken, "\n"));
    read_file_ = WriteFile("read.token", absl::StrCat(kReadToken, "\n"));
    storage_address_ =
        StartService(Service::kStorage, {absl::StrCat("--auth_tokens_file=", tokens)}).address();
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(directory(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  // cofferctl against the storage, with `env` ("NAME=value") added to its
  // environment. Every run is checked for the tokens in its output.
  CommandOutput Run(const std::vector<std::string>& args, std::vector<std::string> env = {}) {
    absl::StatusOr<CommandOutput> result =
        RunCommandWith({.binary = RunfilePath("tools/cofferctl/cofferctl"),
                        .args = Prepend({"--storage=" + storage_address_, "--timeout=60s"}, args),
                        .env = std::move(env),
                        .timeout = absl::Minutes(3)});
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {-1, "", ""};
    for (const char* token : {kAdminToken, kReadToken}) {
      EXPECT_FALSE(absl::StrContains(result->stdout_text, token)) << "token on stdout";
      EXPECT_FALSE(absl::StrContains(result->stderr_text, token)) << "token on stderr";
    }
    return *std::move(result);
  }

  std::string storage_address_;
  std::string admin_file_;
  std::string read_file_;
};

TEST_F(CofferctlTokensTest, WithoutATokenIsUnauthenticated) {
  CommandOutput listed = Run({"accounts", "ls"});
  EXPECT_EQ(listed.exit_code, 1) << listed.stderr_text;
  EXPECT_TRUE(absl::StrContains(listed.stderr_text, "UNAUTHENTICATED")) << listed.stderr_text;

  const std::string unknown = WriteFile("unknown.token", "not-a-known-token\n");
  listed = Run({"--token_file=" + unknown, "accounts", "ls"});
  EXPECT_EQ(listed.exit_code, 1) << listed.stderr_text;
  EXPECT_TRUE(absl::StrContains(listed.stderr_text, "UNAUTHENTICATED")) << listed.stderr_text;
}

TEST_F(CofferctlTokensTest, ReadTokenListsButMayNotAdd) {
  CommandOutput listed = Run({"--token_file=" + read_file_, "accounts", "ls"});
  EXPECT_EQ(listed.exit_code, 0) << listed.stderr_text;

  CommandOutput added = Run({"--token_file=" + read_file_, "accounts", "add", kAccount});
  EXPECT_EQ(added.exit_code, 1) << added.stderr_text;
  EXPECT_TRUE(absl::StrContains(added.stderr_text, "PERMISSION_DENIED")) << added.stderr_text;
}

TEST_F(CofferctlTokensTest, AdminTokenAdds) {
  CommandOutput added = Run({"--token_file=" + admin_file_, "accounts", "add", kAccount});
  EXPECT_EQ(added.exit_code, 0) << added.stderr_text;

  CommandOutput listed = Run({"--token_file=" + read_file_, "accounts", "ls"});
  EXPECT_EQ(listed.exit_code, 0) << listed.stderr_text;
  EXPECT_TRUE(absl::StrContains(listed.stdout_text, kAccount)) << listed.stdout_text;
}

TEST_F(CofferctlTokensTest, TokenFileFromTheEnvironment) {
  CommandOutput added =
      Run({"accounts", "add", kAccount}, {absl::StrCat("COFFER_TOKEN_FILE=", admin_file_)});
  EXPECT_EQ(added.exit_code, 0) << added.stderr_text;

  // The command line wins over the environment.
  added = Run({"--token_file=" + read_file_, "accounts", "add", kAccount},
              {absl::StrCat("COFFER_TOKEN_FILE=", admin_file_)});
  EXPECT_EQ(added.exit_code, 1) << added.stderr_text;
  EXPECT_TRUE(absl::StrContains(added.stderr_text, "PERMISSION_DENIED")) << added.stderr_text;
}

TEST_F(CofferctlTokensTest, UnusableTokenFileIsAUsageError) {
  const std::string missing = absl::StrCat(directory(), "/missing.token");
  CommandOutput listed = Run({"--token_file=" + missing, "accounts", "ls"});
  EXPECT_EQ(listed.exit_code, 2);
  EXPECT_EQ(listed.stderr_text, absl::StrCat("cofferctl: cannot read token file ", missing,
                                             ": No such file or directory\n"));

  // A file that is not a token file (here: the server's tokens) is refused
  // without echoing its contents.
  const std::string spaced = WriteFile("spaced.token", absl::StrCat("admin ", kAdminToken, "\n"));
  listed = Run({"--token_file=" + spaced, "accounts", "ls"});
  EXPECT_EQ(listed.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(listed.stderr_text, spaced)) << listed.stderr_text;
  EXPECT_EQ(listed.stdout_text, "");
}

}  // namespace
}  // namespace coffer::testing
