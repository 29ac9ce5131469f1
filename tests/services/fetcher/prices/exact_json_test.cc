#include "services/fetcher/prices/exact_json.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

using ::testing::HasSubstr;

TEST(ExactJsonTest, NumbersKeepTheirTextAndAreToldFromStrings) {
  absl::StatusOr<ExactJson> json = ExactJson::Parse(
      R"({"a": 3012.450, "b": "3012.45", "c": [1e300, "x", {"d": 115792089237316195423570985008687907853269984665640564039457584007913129639936}]})");
  ASSERT_TRUE(json.ok()) << json.status();
  const rapidjson::Value& root = json->root();
  EXPECT_TRUE(json->IsNumber(root["a"]));
  EXPECT_EQ(std::string(root["a"].GetString()), "3012.450");
  EXPECT_TRUE(json->IsString(root["b"]));
  EXPECT_FALSE(json->IsNumber(root["b"]));
  const rapidjson::Value& c = root["c"];
  EXPECT_TRUE(json->IsNumber(c[0]));
  EXPECT_EQ(std::string(c[0].GetString()), "1e300");
  EXPECT_TRUE(json->IsString(c[1]));
  EXPECT_TRUE(json->IsNumber(c[2]["d"]));
  EXPECT_EQ(std::string(c[2]["d"].GetString()),
            "115792089237316195423570985008687907853269984665640564039457584007913129639936");
}

TEST(ExactJsonTest, SurvivesMovesWithValueIdentity) {
  absl::StatusOr<ExactJson> json = ExactJson::Parse(R"({"n": 1, "s": "1"})");
  ASSERT_TRUE(json.ok());
  ExactJson moved = *std::move(json);
  EXPECT_TRUE(moved.IsNumber(moved.root()["n"]));
  EXPECT_TRUE(moved.IsString(moved.root()["s"]));
}

TEST(ExactJsonTest, RejectsMalformedBodiesAsDataLoss) {
  for (const std::string& bad :
       {std::string(""), std::string("{"), std::string("{} {}"), std::string("{\"a\":01}"),
        std::string("{\"a\":1.}"), std::string("{\"a\":.5}"), std::string("{\"a\":+1}"),
        std::string("{\"a\":NaN}"), std::string("{\"a\":\"\xc3\x28\"}"), std::string("{}\0{}", 5),
        std::string(65, '[') + std::string(65, ']')}) {
    absl::StatusOr<ExactJson> json = ExactJson::Parse(bad);
    ASSERT_FALSE(json.ok()) << bad;
    EXPECT_EQ(json.status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  // RapidJSON's reader refuses numbers past a double's range even when it
  // keeps their text.
  EXPECT_EQ(ExactJson::Parse("[1e400]").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(ExactJson::Parse(std::string(64, '[') + std::string(64, ']')).ok());
  absl::StatusOr<ExactJson> big = ExactJson::Parse("[1,2,3]", 6);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("larger than the limit"));
}

struct DecimalCase {
  std::string text;
  std::string units;
  uint32_t decimals;
};

TEST(DecimalFromJsonNumberTest, ExactConversions) {
  for (const DecimalCase& c : std::vector<DecimalCase>{
           {"3012.45", "301245", 2},
           {"3012.450", "301245", 2},
           {"1.2e-7", "12", 8},
           {"1.2E-7", "12", 8},
           {"12e-8", "12", 8},
           {"1e3", "1000", 0},
           {"1E+3", "1000", 0},
           {"1.5e1", "15", 0},
           {"1.25e1", "125", 1},
           {"0", "0", 0},
           {"-0", "0", 0},
           {"0.000", "0", 0},
           {"0e5", "0", 0},
           {"0.00012", "12", 5},
           {"100", "100", 0},
           {"1000.000", "1000", 0},
           {"0.99999999999999999999", "99999999999999999999", 20},
           {"1e-255", "1", 255},
           {"123456789012345678901234567890", "123456789012345678901234567890", 0},
       }) {
    absl::StatusOr<chain::DecimalAmount> amount = DecimalFromJsonNumber(c.text);
    ASSERT_TRUE(amount.ok()) << c.text << ": " << amount.status();
    EXPECT_EQ(amount->units, c.units) << c.text;
    EXPECT_EQ(amount->decimals, c.decimals) << c.text;
  }
}

TEST(DecimalFromJsonNumberTest, RejectsNegativesHugeAndNonNumbers) {
  for (const char* bad :
       {"-1", "-0.5", "-1e-9", "1e-256", "1e160", "1e100000000000", "1e-100000000000", "", "abc",
        "1.", ".5", "01", "1e", "1e+", "+1", "0x10", "1,5", " 1", "1 "}) {
    absl::StatusOr<chain::DecimalAmount> amount = DecimalFromJsonNumber(bad);
    ASSERT_FALSE(amount.ok()) << bad;
    EXPECT_EQ(amount.status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  // Just inside the digit limit.
  EXPECT_TRUE(DecimalFromJsonNumber("1e159").ok());
}

TEST(Uint64FromJsonNumberTest, PlainIntegersOnly) {
  EXPECT_EQ(*Uint64FromJsonNumber("0"), 0u);
  EXPECT_EQ(*Uint64FromJsonNumber("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"18446744073709551616", "-1", "1.0", "1e3", "", "01", "x"}) {
    EXPECT_EQ(Uint64FromJsonNumber(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

}  // namespace
}  // namespace coffer::fetcher
