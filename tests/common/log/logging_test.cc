#include "common/log/logging.h"

#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/null_sink.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

#include "tests/common/log/json_line.h"

ABSL_DECLARE_FLAG(bool, log_json);

namespace coffer::log {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class LoggingTest : public ::testing::Test {
 protected:
  // Logs to `output_` as service "storage".
  void InitForTest(bool json, std::string level = "info") {
    Init(Options{.service = "storage",
                 .level = std::move(level),
                 .json = json,
                 .sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(output_)});
  }

  // The default logger must not outlive the stream it writes to.
  void TearDown() override {
    Init(Options{.service = "test", .sink = std::make_shared<spdlog::sinks::null_sink_mt>()});
  }

  std::vector<std::string> Lines() const {
    return absl::StrSplit(output_.str(), absl::ByChar('\n'), absl::SkipEmpty());
  }

  std::ostringstream output_;
};

TEST_F(LoggingTest, TextLineHasTimeLevelServiceAndMessage) {
  InitForTest(/*json=*/false);

  spdlog::info("listening on {}", "127.0.0.1:50051");

  EXPECT_THAT(output_.str(), MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                          "\\.[0-9]{3}Z I storage [0-9]+\\] listening on "
                                          "127\\.0\\.0\\.1:50051\n"));
}

TEST_F(LoggingTest, JsonLineParsesAndKeepsQuotesAndNewlines) {
  InitForTest(/*json=*/true);
  const std::string message = "upstream said \"no\"\nand closed";

  spdlog::warn("{}", message);

  const absl::StatusOr<coffer::test::log::LogEvent> event = ParseJsonLine(output_.str());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->msg(), message);
  EXPECT_EQ(event->level(), "warning");
  EXPECT_EQ(event->service(), "storage");
  EXPECT_GT(event->thread(), 0u);
  EXPECT_THAT(event->ts(), MatchesRegex("[0-9T:.-]+Z"));
}

TEST_F(LoggingTest, SetLevelReturnsThePreviousLevel) {
  InitForTest(/*json=*/false);
  ASSERT_EQ(GetLevel(), "info");

  spdlog::debug("hidden");
  const absl::StatusOr<std::string> previous = SetLevel("debug");
  spdlog::debug("shown");

  ASSERT_TRUE(previous.ok()) << previous.status();
  EXPECT_EQ(*previous, "info");
  EXPECT_EQ(GetLevel(), "debug");
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_THAT(Lines()[0], HasSubstr("D storage"));
  EXPECT_THAT(Lines()[0], HasSubstr("shown"));
}

TEST_F(LoggingTest, SetLevelDropsLessSevereEvents) {
  InitForTest(/*json=*/false);

  ASSERT_TRUE(SetLevel("WARN").ok());
  spdlog::info("hidden");
  spdlog::error("shown");

  EXPECT_EQ(GetLevel(), "warning");
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_THAT(Lines()[0], HasSubstr("E storage"));
}

TEST_F(LoggingTest, BadLevelIsRejectedAndChangesNothing) {
  InitForTest(/*json=*/false, "error");

  const absl::StatusOr<std::string> previous = SetLevel("verbose");

  EXPECT_EQ(previous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(previous.status().message()),
              HasSubstr("accepted: trace, debug, info, warning, error, critical, off"));
  EXPECT_EQ(GetLevel(), "error");
}

TEST_F(LoggingTest, InitWithBadLevelLogsAtInfoAndSaysSo) {
  InitForTest(/*json=*/false, "loud");

  EXPECT_EQ(GetLevel(), "info");
  EXPECT_THAT(output_.str(), HasSubstr("E storage"));
  EXPECT_THAT(output_.str(), HasSubstr("unknown log level \"loud\""));
}

TEST_F(LoggingTest, OptionsFromFlags) {
  absl::FlagSaver flag_saver;
  absl::CommandLineFlag* log_level = absl::FindCommandLineFlag("log_level");
  ASSERT_NE(log_level, nullptr);
  EXPECT_EQ(log_level->DefaultValue(), "info");
  std::string error;
  ASSERT_TRUE(log_level->ParseFrom("WARN", &error)) << error;
  absl::SetFlag(&FLAGS_log_json, true);

  const Options options = OptionsFromFlags("fetcher");

  EXPECT_EQ(options.service, "fetcher");
  EXPECT_EQ(options.level, "warning");
  EXPECT_TRUE(options.json);
  EXPECT_EQ(options.sink, nullptr);
}

TEST_F(LoggingTest, LevelFlagRejectsUnknownLevels) {
  absl::FlagSaver flag_saver;
  std::string error;

  EXPECT_FALSE(absl::FindCommandLineFlag("log_level")->ParseFrom("loud", &error));

  EXPECT_THAT(error, HasSubstr("unknown log level \"loud\""));
}

TEST_F(LoggingTest, LevelChangesWhileOtherThreadsLog) {
  InitForTest(/*json=*/true);
  constexpr int kThreads = 4;
  constexpr int kEventsPerThread = 200;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kEventsPerThread; ++i) spdlog::warn("thread {} event {}", t, i);
    });
  }
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(SetLevel(i % 2 == 0 ? "error" : "info").ok());
    EXPECT_FALSE(GetLevel().empty());
  }
  for (std::thread& thread : threads) thread.join();

  const std::vector<std::string> lines = Lines();
  EXPECT_LE(lines.size(), static_cast<size_t>(kThreads * kEventsPerThread));
  for (const std::string& line : lines) {
    ASSERT_TRUE(ParseJsonLine(line + "\n").ok()) << line;
  }
}

}  // namespace
}  // namespace coffer::log
