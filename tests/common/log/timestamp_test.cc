#include "common/log/timestamp.h"

#include <chrono>
#include <string>

#include "gtest/gtest.h"

namespace coffer::log {
namespace {

std::string Format(spdlog::log_clock::time_point time) {
  spdlog::memory_buf_t out;
  AppendUtcTimestamp(time, out);
  return fmt::to_string(out);
}

spdlog::log_clock::time_point FromMillis(int64_t millis) {
  return spdlog::log_clock::time_point(std::chrono::milliseconds(millis));
}

TEST(AppendUtcTimestampTest, FormatsUtcWithMilliseconds) {
  // 2026-11-26T13:05:01Z is 1795698301 seconds after the epoch.
  EXPECT_EQ(Format(FromMillis(1795698301123)), "2026-11-26T13:05:01.123Z");
  EXPECT_EQ(Format(FromMillis(0)), "1970-01-01T00:00:00.000Z");
}

TEST(AppendUtcTimestampTest, DropsSubMillisecondDigits) {
  const auto time = FromMillis(1795698301123) + std::chrono::microseconds(999);
  EXPECT_EQ(Format(time), "2026-11-26T13:05:01.123Z");
}

TEST(AppendUtcTimestampTest, BeforeEpochCountsBackwards) {
  EXPECT_EQ(Format(FromMillis(-1)), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace coffer::log
