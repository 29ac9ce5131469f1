#include "common/chain/amount.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace coffer::chain {
namespace {

TEST(AmountTest, ValidBalances) {
  for (const char* units : {"0", "1", "1500000000000000000", kMaxUint256.data()}) {
    EXPECT_TRUE(ValidateBalance(units, 18).ok()) << units;
  }
  EXPECT_TRUE(ValidateBalance("5", 0).ok());
  EXPECT_TRUE(ValidateBalance("5", kMaxDecimals).ok());
  // 78 digits below 2^256-1, and the largest 77-digit number.
  EXPECT_TRUE(ValidateBalanceUnits(std::string("1") + std::string(77, '0')).ok());
  EXPECT_TRUE(ValidateBalanceUnits(std::string(77, '9')).ok());
}

TEST(AmountTest, InvalidBalances) {
  struct Case {
    std::string units;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "units is empty"},
           {"-1", "units must be digits only"},
           {"+1", "units must be digits only"},
           {"1.5", "units must be digits only"},
           {"1e18", "units must be digits only"},
           {" 1", "units must be digits only"},
           {"1,000", "units must be digits only"},
           {"00", "units has a leading zero"},
           {"01", "units has a leading zero"},
           // 2^256 and the largest 78-digit number.
           {"115792089237316195423570985008687907853269984665640564039457584007913129639936",
            "units exceeds 2^256-1"},
           {std::string(78, '9'), "units exceeds 2^256-1"},
           {"2" + std::string(77, '0'), "units exceeds 2^256-1"},
           {"1" + std::string(78, '0'), "units has more than 78 digits"},
       }) {
    absl::Status status = ValidateBalanceUnits(c.units);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.units;
    EXPECT_EQ(status.message(), c.message) << c.units;
  }
  absl::Status status = ValidateBalance("1", kMaxDecimals + 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "decimals 256 exceeds 255");
}

TEST(AmountTest, DerivedValuesUpTo160Digits) {
  EXPECT_TRUE(ValidateUnits(std::string(160, '9')).ok());
  EXPECT_FALSE(ValidateUnits(std::string(161, '9')).ok());
}

TEST(AmountTest, Format) {
  struct Case {
    std::string units;
    uint32_t decimals;
    std::string formatted;
  };
  for (const Case& c : std::vector<Case>{
           {"1234500", 6, "1.2345"},
           {"1500000000000000000", 18, "1.5"},
           {"1000000000000000000", 18, "1"},
           {"5", 3, "0.005"},
           {"500", 3, "0.5"},
           {"1000", 3, "1"},
           {"0", 18, "0"},
           {"0", 0, "0"},
           {"1230", 0, "1230"},
           {"123", 3, "0.123"},
           {"1", 1, "0.1"},
           {std::string(kMaxUint256), 18,
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935"},
           {std::string(kMaxUint256), 78,
            "0.115792089237316195423570985008687907853269984665640564039457584007913129639935"},
           {"1", 255, "0." + std::string(254, '0') + "1"},
       }) {
    absl::StatusOr<std::string> formatted = FormatUnits(c.units, c.decimals);
    ASSERT_TRUE(formatted.ok()) << c.units << ": " << formatted.status();
    EXPECT_EQ(*formatted, c.formatted) << c.units << " / " << c.decimals;
  }
  EXPECT_FALSE(FormatUnits("01", 2).ok());
  EXPECT_FALSE(FormatUnits("1", 256).ok());
}

TEST(AmountTest, AddUnits) {
  EXPECT_EQ(*AddUnits("0", "0"), "0");
  EXPECT_EQ(*AddUnits("1", "9"), "10");
  EXPECT_EQ(*AddUnits("999", "1"), "1000");
  EXPECT_EQ(*AddUnits("1", "999"), "1000");
  EXPECT_EQ(*AddUnits("123456789", "987654321"), "1111111110");
  // 2 x (2^256-1) = 2^257 - 2: past uint256, still exact.
  EXPECT_EQ(*AddUnits(kMaxUint256, kMaxUint256),
            "231584178474632390847141970017375815706539969331281128078915168015826259279870");
  EXPECT_FALSE(AddUnits("1", "-1").ok());
  EXPECT_FALSE(AddUnits("", "1").ok());
}

TEST(AmountTest, AddAmounts) {
  struct Case {
    DecimalAmount a, b, sum;
  };
  for (const Case& c : std::vector<Case>{
           {{"15", 1}, {"25", 2}, {"175", 2}},
           {{"25", 2}, {"15", 1}, {"175", 2}},
           {{"0", 0}, {"5", 18}, {"5", 18}},
           {{"5", 18}, {"0", 0}, {"5", 18}},
           {{"0", 6}, {"0", 18}, {"0", 18}},
           {{"1", 0}, {"1", 18}, {"1000000000000000001", 18}},
           {{"1500000000000000000", 18}, {"2500000", 6}, {"4000000000000000000", 18}},
       }) {
    absl::StatusOr<DecimalAmount> sum = AddAmounts(c.a, c.b);
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ(*sum, c.sum) << c.a.units << "/" << c.a.decimals << " + " << c.b.units << "/"
                           << c.b.decimals;
  }
  EXPECT_EQ(*FormatUnits(AddAmounts({"1500000000000000000", 18}, {"2500000", 6})->units, 18), "4");
  EXPECT_FALSE(AddAmounts({"01", 0}, {"1", 0}).ok());
  EXPECT_FALSE(AddAmounts({"1", 256}, {"1", 0}).ok());
  // Scaling to 255 decimals stays within the arithmetic limit.
  absl::StatusOr<DecimalAmount> wide = AddAmounts({std::string(kMaxUint256), 0}, {"1", 255});
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(wide->units.size(), 78u + 255u);
}

}  // namespace
}  // namespace coffer::chain
