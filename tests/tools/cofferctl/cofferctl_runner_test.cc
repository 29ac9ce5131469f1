// The runner's failure paths, which the integration tests only reach when
// something is broken: a parse failure or a failed run must fail the test
// and show the text, never pass quietly.
#include "tests/tools/cofferctl/cofferctl_runner.h"

#include <string>
#include <vector>

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include <google/protobuf/struct.pb.h>

#include "coffer/v1/common.pb.h"

namespace coffer::testing {
namespace {

TEST(CofferctlRunnerTest, ParsesProtoJson) {
  v1::Amount amount = ParseJson<v1::Amount>(R"({"units": "15", "decimals": 1})");
  EXPECT_EQ(amount.units(), "15");
  EXPECT_EQ(amount.decimals(), 1u);
  google::protobuf::Struct document;
  ASSERT_TRUE(JsonToMessage(R"({"services": []})", &document));
  EXPECT_EQ(document.fields().count("services"), 1u);
}

TEST(CofferctlRunnerTest, AParseFailureFailsTheTestShowingTheText) {
  v1::Amount amount;
  ::testing::AssertionResult parsed = JsonToMessage("units: 15", &amount);
  EXPECT_FALSE(parsed);
  EXPECT_NE(std::string(parsed.message()).find("units: 15"), std::string::npos) << parsed.message();
  EXPECT_NONFATAL_FAILURE(ParseJson<v1::Amount>("{\"no_such_field\": 1}"), "no_such_field");
}

TEST(CofferctlRunnerTest, AFailedRunFailsTheTestShowingStderr) {
  EXPECT_NONFATAL_FAILURE(
      ParseSuccessfulOutput<v1::Amount>(CommandOutput{1, "{}", "storage at 127.0.0.1:1: down"}),
      "storage at 127.0.0.1:1: down");
}

TEST(CofferctlRunnerTest, RunsTheBinary) {
  CommandOutput usage = RunCofferctl({"frobnicate"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(usage.stdout_text, "");
  EXPECT_NE(usage.stderr_text.find("frobnicate"), std::string::npos) << usage.stderr_text;
  CommandOutput merged = RunCofferctlMerged({"frobnicate"});
  EXPECT_EQ(merged.exit_code, 2);
  EXPECT_EQ(merged.stdout_text, usage.stderr_text);
  EXPECT_EQ(merged.stderr_text, "");
}

TEST(CofferctlRunnerTest, PrependKeepsTheFixturesFlagsFirst) {
  EXPECT_EQ(Prepend({"--storage=a", "--timeout=1s"}, {"accounts", "ls"}),
            (std::vector<std::string>{"--storage=a", "--timeout=1s", "accounts", "ls"}));
  EXPECT_EQ(Lines("a\n\nb\n"), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace coffer::testing
