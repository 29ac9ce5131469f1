#include "common/log/level.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::log {
namespace {

using ::testing::HasSubstr;

TEST(ParseLevelTest, AcceptsEveryCanonicalName) {
  for (const auto level :
       {spdlog::level::trace, spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
        spdlog::level::err, spdlog::level::critical, spdlog::level::off}) {
    const absl::StatusOr<spdlog::level::level_enum> parsed = ParseLevel(LevelName(level));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, level);
  }
}

TEST(ParseLevelTest, IgnoresCaseAndAcceptsWarn) {
  EXPECT_EQ(ParseLevel("DEBUG").value(), spdlog::level::debug);
  EXPECT_EQ(ParseLevel("Warning").value(), spdlog::level::warn);
  EXPECT_EQ(ParseLevel("warn").value(), spdlog::level::warn);
}

TEST(ParseLevelTest, RejectsUnknownNamesListingTheAcceptedOnes) {
  // spdlog itself would read both of these as "off".
  for (const char* name : {"verbose", ""}) {
    const absl::StatusOr<spdlog::level::level_enum> parsed = ParseLevel(name);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr("trace, debug, info, warning, error, critical, off"));
  }
}

TEST(LevelNameTest, NamesAreCanonical) {
  EXPECT_EQ(LevelName(spdlog::level::warn), "warning");
  EXPECT_EQ(LevelName(spdlog::level::err), "error");
}

TEST(LevelFlagTest, ParsesAndUnparses) {
  LevelFlag flag;
  std::string error;

  ASSERT_TRUE(AbslParseFlag("debug", &flag, &error));
  EXPECT_EQ(flag.level, spdlog::level::debug);
  EXPECT_EQ(AbslUnparseFlag(flag), "debug");

  EXPECT_FALSE(AbslParseFlag("loud", &flag, &error));
  EXPECT_THAT(error, HasSubstr("unknown log level \"loud\""));
  EXPECT_EQ(flag.level, spdlog::level::debug);
}

}  // namespace
}  // namespace coffer::log
