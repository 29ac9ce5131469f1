#include "common/config/validation.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testdata/test_config.pb.h"

namespace coffer::config {
namespace {

using ::coffer::test::config::Chain;
using ::coffer::test::config::TestConfig;
using ::testing::ElementsAre;

// The validator from validation.h's usage example.
absl::Status ValidateTestConfig(const TestConfig& config) {
  FieldErrors errors("fetcher.textproto");
  for (int i = 0; i < config.chains_size(); ++i) {
    const Chain& chain = config.chains(i);
    const FieldPath path = FieldPath("chains").Index(i);
    errors.Check(!chain.id().empty(), path.Field("id"), "must not be empty");
    for (int j = 0; j < chain.endpoints_size(); ++j) {
      errors.Check(absl::StartsWith(chain.endpoints(j).url(), "https://"),
                   path.Field("endpoints").Index(j).Field("url"), "must use https");
    }
  }
  return errors.ToStatus();
}

TEST(FieldPathTest, BuildsNestedPaths) {
  EXPECT_EQ(FieldPath().str(), "");
  EXPECT_EQ(FieldPath().Field("name").str(), "name");
  EXPECT_EQ(FieldPath("chains").Index(3).Field("endpoints").Index(0).Field("url").str(),
            "chains[3].endpoints[0].url");
  EXPECT_EQ(FieldPath("host_limits").Key("rpc.example").str(), "host_limits[\"rpc.example\"]");
  EXPECT_EQ(FieldPath("host_limits").Key("a\"b").str(), "host_limits[\"a\\\"b\"]");
}

TEST(FieldErrorsTest, NoErrorsIsOk) {
  FieldErrors errors("fetcher.textproto");

  EXPECT_TRUE(errors.Check(true, "name", "must not be empty"));

  EXPECT_TRUE(errors.ok());
  EXPECT_TRUE(errors.ToStatus().ok());
}

TEST(FieldErrorsTest, CollectsEveryErrorWithItsPath) {
  TestConfig config;
  config.add_chains()->set_id("eip155:1");
  config.mutable_chains(0)->add_endpoints()->set_url("https://ok.example");
  config.add_chains();
  config.add_chains()->set_id("eip155:10");
  config.mutable_chains(2)->add_endpoints()->set_url("http://plain.example");

  const absl::Status status = ValidateTestConfig(config);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "fetcher.textproto: chains[1].id: must not be empty; "
            "chains[2].endpoints[0].url: must use https");
}

TEST(FieldErrorsTest, CheckReturnsTheCondition) {
  FieldErrors errors;

  EXPECT_FALSE(errors.Check(false, "limit", "must be positive"));
  EXPECT_TRUE(errors.Check(true, "limit", "must be positive"));

  EXPECT_THAT(errors.errors(), ElementsAre("limit: must be positive"));
}

TEST(FieldErrorsTest, WithoutSourceOrPathOnlyTheMessage) {
  FieldErrors errors;
  errors.Add(FieldPath(), "needs at least one chain");

  EXPECT_EQ(errors.ToStatus().message(), "needs at least one chain");
}

TEST(FieldErrorsTest, CheckOkRecordsTheStatusMessage) {
  FieldErrors errors("scheduler.textproto");

  EXPECT_TRUE(errors.CheckOk(FieldPath("interval"), absl::OkStatus()));
  EXPECT_FALSE(
      errors.CheckOk(FieldPath("timeout"), absl::InvalidArgumentError("invalid duration \"5x\"")));

  EXPECT_EQ(errors.ToStatus().message(), "scheduler.textproto: timeout: invalid duration \"5x\"");
}

}  // namespace
}  // namespace coffer::config
