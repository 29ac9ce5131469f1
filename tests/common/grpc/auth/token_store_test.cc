#include "common/grpc/auth/token_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::grpc_util::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kReadToken[] = "read-token-0123456789abcdef";

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

// Replaces the file the way a Secret update does: a new inode renamed over
// the old name.
void WriteFile(const std::string& path, const std::string& text) {
  std::string temporary = path + ".new";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
  }
  chmod(temporary.c_str(), 0600);
  ASSERT_EQ(std::rename(temporary.c_str(), path.c_str()), 0);
}

TokenStore::Options EveryFind() {
  TokenStore::Options options;
  options.recheck_interval = absl::ZeroDuration();
  return options;
}

TEST(TokenStoreTest, FindsEachTokenWithItsRoleAndName) {
  std::string path = TempPath("tokens_basic");
  WriteFile(path, absl::StrCat("# comment\n\n  admin ", kAdminToken, "  the scheduler \n", "read\t",
                               kReadToken, "\n"));
  auto store = TokenStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto admin = (*store)->Find(kAdminToken);
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(admin->name, "the scheduler");
  auto read = (*store)->Find(kReadToken);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->role, Role::kRead);
  EXPECT_THAT(read->name, HasSubstr("line 4"));
  EXPECT_EQ((*store)->count(Role::kAdmin), 1);
  EXPECT_EQ((*store)->count(Role::kRead), 1);
}

TEST(TokenStoreTest, RefusesWhatIsNotAToken) {
  std::string path = TempPath("tokens_refuse");
  WriteFile(path, absl::StrCat("admin ", kAdminToken, "\n"));
  auto store = TokenStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE((*store)->Find("").has_value());
  EXPECT_FALSE((*store)->Find(kReadToken).has_value());
  // A prefix, an extension and a case change are different tokens.
  std::string token = kAdminToken;
  EXPECT_FALSE((*store)->Find(token.substr(0, token.size() - 1)).has_value());
  EXPECT_FALSE((*store)->Find(token + "x").has_value());
  EXPECT_FALSE((*store)->Find("ADMIN-TOKEN-0123456789ABCDEF").has_value());
  EXPECT_FALSE((*store)->Find("admin").has_value());
}

TEST(TokenStoreTest, MalformedFilesFailWithoutQuotingTheirContents) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::string secret = "s3cret-value-that-must-not-leak";
  std::vector<Case> cases = {
      {absl::StrCat("writer ", secret, "\n"), "line 1: the first field must be the role"},
      {absl::StrCat(secret, "\n"), "line 1: expected ROLE TOKEN [NAME]"},
      {absl::StrCat(secret, " admin\n"), "line 1: the first field must be the role"},
      {"# only a comment\n\n", "no tokens"},
      {"", "no tokens"},
      {"read short-s3cret\n", "line 1: the token is shorter than 16 characters"},
      {absl::StrCat("read ", secret, " one\nadmin ", secret, " two\n"),
       "line 2: the same token as \"one\""},
  };
  for (const Case& c : cases) {
    std::string path = TempPath("tokens_malformed");
    WriteFile(path, c.text);
    auto store = TokenStore::Open(path);
    ASSERT_FALSE(store.ok()) << c.text;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(store.status().message(), HasSubstr(c.error));
    EXPECT_THAT(store.status().message(), Not(HasSubstr("s3cret")));
    EXPECT_THAT(store.status().message(), HasSubstr(path));
  }
}

TEST(TokenStoreTest, MissingFileIsNotFound) {
  auto store = TokenStore::Open(TempPath("no_such_tokens_file"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
}

TEST(TokenStoreTest, PicksUpAChangedFile) {
  std::string path = TempPath("tokens_reload");
  WriteFile(path, absl::StrCat("read ", kReadToken, "\n"));
  auto store = TokenStore::Open(path, EveryFind());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Find(kReadToken).has_value());

  // Rotation: the read token revoked, an admin one added.
  WriteFile(path, absl::StrCat("admin ", kAdminToken, "\n"));
  EXPECT_FALSE((*store)->Find(kReadToken).has_value());
  auto admin = (*store)->Find(kAdminToken);
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->role, Role::kAdmin);
}

TEST(TokenStoreTest, ABrokenOrMissingFileKeepsThePreviousTokens) {
  std::string path = TempPath("tokens_broken");
  WriteFile(path, absl::StrCat("read ", kReadToken, "\n"));
  auto store = TokenStore::Open(path, EveryFind());
  ASSERT_TRUE(store.ok()) << store.status();

  WriteFile(path, "nonsense\n");
  EXPECT_TRUE((*store)->Find(kReadToken).has_value());
  EXPECT_FALSE((*store)->Reload().ok());
  EXPECT_TRUE((*store)->Find(kReadToken).has_value());

  ASSERT_EQ(std::remove(path.c_str()), 0);
  EXPECT_TRUE((*store)->Find(kReadToken).has_value());

  // And a good file after that is taken again.
  WriteFile(path, absl::StrCat("admin ", kAdminToken, "\n"));
  EXPECT_FALSE((*store)->Find(kReadToken).has_value());
  EXPECT_TRUE((*store)->Find(kAdminToken).has_value());
}

TEST(TokenStoreTest, LooksAtTheFileOnlyOncePerInterval) {
  std::string path = TempPath("tokens_interval");
  WriteFile(path, absl::StrCat("read ", kReadToken, "\n"));
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  TokenStore::Options options;
  options.recheck_interval = absl::Seconds(5);
  options.clock = [&now] { return now; };
  auto store = TokenStore::Open(path, options);
  ASSERT_TRUE(store.ok()) << store.status();

  WriteFile(path, absl::StrCat("admin ", kAdminToken, "\n"));
  now += absl::Seconds(4);
  EXPECT_TRUE((*store)->Find(kReadToken).has_value()) << "checked before the interval passed";
  now += absl::Seconds(1);
  EXPECT_FALSE((*store)->Find(kReadToken).has_value());
  EXPECT_TRUE((*store)->Find(kAdminToken).has_value());
}

}  // namespace
}  // namespace coffer::grpc_util::auth
