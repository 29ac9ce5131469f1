#include "services/storage/db/secret.h"

#include <sstream>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace coffer::storage::db {
namespace {

TEST(SecretStringTest, HoldsTheBytes) {
  SecretString secret(std::string("0123456789abcdef0123456789abcdef"));
  EXPECT_EQ(secret.Reveal(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(secret.size(), 32u);
}

TEST(SecretStringTest, NeverPrints) {
  SecretString secret(std::string("do-not-print-me"));
  std::ostringstream out;
  out << secret;
  EXPECT_EQ(out.str(), "<redacted>");
  EXPECT_EQ(::testing::PrintToString(secret).find("do-not-print-me"), std::string::npos);
}

TEST(SecretStringTest, WipesTheMovedFromSource) {
  std::string shortText = "short";  // kept inline by the small-string optimization
  SecretString secret(std::move(shortText));
  EXPECT_TRUE(shortText.empty());
  EXPECT_EQ(secret.Reveal(), "short");
}

TEST(SecretStringTest, MoveLeavesTheSourceEmpty) {
  SecretString a(std::string(100, 'k'));
  SecretString b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the wipe
  EXPECT_EQ(b.Reveal(), std::string(100, 'k'));
  SecretString c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.size(), 100u);
}

TEST(SecretStringTest, Appends) {
  SecretString secret(std::string("PRAGMA key = \"x'"));
  secret.Append(std::string(64, 'a'));
  secret.Append("'\"");
  EXPECT_EQ(secret.Reveal(), "PRAGMA key = \"x'" + std::string(64, 'a') + "'\"");
}

TEST(WipeStringTest, ZeroesAndEmpties) {
  std::string s(40, 'z');
  WipeString(s);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace coffer::storage::db
