#include "common/log/fmt_absl.h"

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace coffer::log {
namespace {

TEST(FmtAbslTest, FormatsStringView) {
  const absl::string_view text = "eip155:1";
  EXPECT_EQ(fmt::format("chain {}", text), "chain eip155:1");
  EXPECT_EQ(fmt::format("[{:>10}]", text), "[  eip155:1]");
}

TEST(FmtAbslTest, FormatsStatus) {
  EXPECT_EQ(fmt::format("{}", absl::OkStatus()), "OK");
  EXPECT_EQ(fmt::format("fetch failed: {}", absl::UnavailableError("connection refused")),
            "fetch failed: UNAVAILABLE: connection refused");
  EXPECT_EQ(fmt::format("{}", absl::NotFoundError("gone").message()), "gone");
}

}  // namespace
}  // namespace coffer::log
