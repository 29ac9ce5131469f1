#include "common/log/json_formatter.h"

#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/log/json_line.h"

namespace coffer::log {
namespace {

std::string FormatEvent(absl::string_view message,
                        spdlog::level::level_enum level = spdlog::level::info) {
  spdlog::details::log_msg msg(spdlog::source_loc{}, "storage", level,
                               spdlog::string_view_t(message.data(), message.size()));
  // 2026-11-26T13:05:01.123Z
  msg.time = spdlog::log_clock::time_point(std::chrono::milliseconds(1795698301123));
  msg.thread_id = 4711;
  spdlog::memory_buf_t out;
  JsonFormatter().format(msg, out);
  return fmt::to_string(out);
}

std::string JsonString(absl::string_view text) {
  spdlog::memory_buf_t out;
  AppendJsonString(text, out);
  return fmt::to_string(out);
}

TEST(JsonFormatterTest, WritesOneObjectPerLine) {
  EXPECT_EQ(FormatEvent("opened database", spdlog::level::warn),
            "{\"ts\":\"2026-11-26T13:05:01.123Z\",\"level\":\"warning\",\"service\":\"storage\","
            "\"thread\":4711,\"msg\":\"opened database\"}\n");
}

TEST(JsonFormatterTest, LineParsesAndKeepsQuotesAndNewlines) {
  const std::string message = "he said \"hi\"\nthen \\left\t\x01";

  const absl::StatusOr<coffer::test::log::LogEvent> event = ParseJsonLine(FormatEvent(message));

  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->msg(), message);
  EXPECT_EQ(event->level(), "info");
  EXPECT_EQ(event->service(), "storage");
  EXPECT_EQ(event->thread(), 4711u);
  EXPECT_EQ(event->ts(), "2026-11-26T13:05:01.123Z");
}

TEST(AppendJsonStringTest, EscapesWhatJsonRequires) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(JsonString(absl::string_view("\x00\x1f", 2)), "\"\\u0000\\u001f\"");
}

TEST(AppendJsonStringTest, KeepsValidUtf8) {
  EXPECT_EQ(JsonString("\xe2\x82\xac 1 \xf0\x9f\x92\xb0 \xc3\xa9"),
            "\"\xe2\x82\xac 1 \xf0\x9f\x92\xb0 \xc3\xa9\"");
}

TEST(AppendJsonStringTest, ReplacesInvalidUtf8) {
  const std::string kReplacement = "\\ufffd";
  EXPECT_EQ(JsonString("a\xff"), "\"a" + kReplacement + "\"");
  // A sequence cut short by the end of the text.
  EXPECT_EQ(JsonString("\xe2\x82"), "\"" + kReplacement + kReplacement + "\"");
  // An overlong encoding of '/'.
  EXPECT_EQ(JsonString("\xc0\xaf"), "\"" + kReplacement + kReplacement + "\"");
  // A UTF-16 surrogate, which UTF-8 may not encode.
  EXPECT_EQ(JsonString("\xed\xa0\x80"), "\"" + kReplacement + kReplacement + kReplacement + "\"");
  // Past U+10FFFF.
  EXPECT_EQ(JsonString("\xf4\x90\x80\x80x"),
            "\"" + kReplacement + kReplacement + kReplacement + kReplacement + "x\"");
}

TEST(AppendJsonStringTest, ReplacedTextStillParses) {
  const absl::StatusOr<coffer::test::log::LogEvent> event =
      ParseJsonLine(FormatEvent("body: \xff\xfe{\"x\":1}"));

  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->msg(), "body: \xef\xbf\xbd\xef\xbf\xbd{\"x\":1}");
}

}  // namespace
}  // namespace coffer::log
