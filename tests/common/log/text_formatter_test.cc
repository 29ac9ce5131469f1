#include "common/log/text_formatter.h"

#include <chrono>
#include <string>

#include "gtest/gtest.h"

namespace coffer::log {
namespace {

std::string FormatEvent(const std::string& message, spdlog::level::level_enum level) {
  spdlog::details::log_msg msg(spdlog::source_loc{}, "storage", level, message);
  // 2026-11-26T13:05:01.123Z
  msg.time = spdlog::log_clock::time_point(std::chrono::milliseconds(1795698301123));
  msg.thread_id = 4711;
  spdlog::memory_buf_t out;
  TextFormatter().format(msg, out);
  return fmt::to_string(out);
}

TEST(TextFormatterTest, WritesTimeLevelServiceThreadAndMessage) {
  EXPECT_EQ(FormatEvent("opened ./data/coffer.db", spdlog::level::info),
            "2026-11-26T13:05:01.123Z I storage 4711] opened ./data/coffer.db\n");
  EXPECT_EQ(FormatEvent("upstream 429", spdlog::level::warn),
            "2026-11-26T13:05:01.123Z W storage 4711] upstream 429\n");
}

TEST(TextFormatterTest, KeepsEachEventOnOneLine) {
  EXPECT_EQ(FormatEvent("first\nsecond\r\n\x1b[31mred\ttab", spdlog::level::err),
            "2026-11-26T13:05:01.123Z E storage 4711] first\\nsecond\\r\\n\\x1b[31mred\ttab\n");
}

}  // namespace
}  // namespace coffer::log
