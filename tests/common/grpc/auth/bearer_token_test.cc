#include "common/grpc/auth/bearer_token.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::grpc_util::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

std::string WriteTemp(const std::string& name, const std::string& text) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return path;
}

TEST(BearerTokenTest, ReadsTheFirstTokenLine) {
  auto token =
      ReadBearerToken(WriteTemp("token_ok", "# the scheduler's token\n\n  abcdef0123456789  \n"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abcdef0123456789");
  // A file with a single line and no newline, as `echo -n` or a Secret
  // writes it.
  token = ReadBearerToken(WriteTemp("token_bare", "abcdef0123456789"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abcdef0123456789");
}

TEST(BearerTokenTest, ErrorsNeverQuoteTheFile) {
  auto spaced = ReadBearerToken(WriteTemp("token_spaced", "s3cret part two\n"));
  ASSERT_FALSE(spaced.ok());
  EXPECT_EQ(spaced.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spaced.status().message(), Not(HasSubstr("s3cret")));

  auto empty = ReadBearerToken(WriteTemp("token_empty", "# nothing\n\n"));
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("no token"));

  auto missing = ReadBearerToken("/nonexistent/token");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(BearerTokenTest, MetadataIsTheAuthorizationHeader) {
  EXPECT_THAT(BearerMetadata("abc"), Pair("authorization", "Bearer abc"));
}

}  // namespace
}  // namespace coffer::grpc_util::auth
