#include "common/chain/amount.h"

#include <random>
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

TEST(AmountTest, MultiplyAmounts) {
  struct Case {
    DecimalAmount a, b;
    uint32_t max_decimals;
    DecimalAmount product;
  };
  const std::string max(kMaxUint256);
  for (const Case& c : std::vector<Case>{
           // 1.5 x 0.25 = 0.375, toward zero at 2 and 0 decimals.
           {{"15", 1}, {"25", 2}, 2, {"37", 2}},
           {{"15", 1}, {"25", 2}, 3, {"375", 3}},
           {{"15", 1}, {"25", 2}, 0, {"0", 0}},
           {{"19", 1}, {"1", 0}, 0, {"1", 0}},
           {{"0", 0}, {"5", 18}, 18, {"0", 18}},
           {{"0", 30}, {"0", 30}, 18, {"0", 18}},
           // Everything dropped: 10^-36 and 25 x 10^-510 toward zero.
           {{"1", 18}, {"1", 18}, 18, {"0", 18}},
           {{"5", 255}, {"5", 255}, 18, {"0", 18}},
           // Fewer decimals than the limit are kept as they are.
           {{"7", 3}, {"3", 0}, 255, {"21", 3}},
           // 1.5 ETH at 3456.78: 5185.17 at 18 decimals.
           {{"1500000000000000000", 18}, {"345678", 2}, 18, {"5185170000000000000000", 18}},
           {{max, 18},
            {"345678", 2},
            18,
            {"400267778233769878016291709558332186109026617592492988960316187246873948276734509",
             18}},
           {{max, 0},
            {max, 0},
            18,
            {"13407807929942597099574024998205846127479365820592393377723561443721764030073315"
             "392623399665776056285720014482370779510884422601683867654778417822746804225",
             0}},
           {{max, 18},
            {max, 18},
            18,
            {"13407807929942597099574024998205846127479365820592393377723561443721764030073315"
             "392623399665776056285720014482370779510884422601683867654",
             18}},
           // Limb boundaries (10^9) and carries across them.
           {{"999999999", 0}, {"999999999", 0}, 0, {"999999998000000001", 0}},
           {{"1000000000", 0}, {"1000000000", 0}, 0, {"1000000000000000000", 0}},
           {{"123456789012345678901234567890", 0},
            {"987654321098765432109876543210", 0},
            0,
            {"121932631137021795226185032733622923332237463801111263526900", 0}},
       }) {
    absl::StatusOr<DecimalAmount> product = MultiplyAmounts(c.a, c.b, c.max_decimals);
    ASSERT_TRUE(product.ok()) << product.status();
    EXPECT_EQ(*product, c.product) << c.a.units << "/" << c.a.decimals << " x " << c.b.units << "/"
                                   << c.b.decimals << " at " << c.max_decimals;
    // Multiplication commutes, rounding included.
    EXPECT_EQ(*MultiplyAmounts(c.b, c.a, c.max_decimals), c.product);
  }
  EXPECT_EQ(
      *FormatUnits(MultiplyAmounts({"1500000000000000000", 18}, {"345678", 2}, 18)->units, 18),
      "5185.17");
}

// The schoolbook digit product a reference for random operands of every
// length around the limb size.
std::string NaiveProduct(const std::string& a, const std::string& b) {
  std::vector<int> digits(a.size() + b.size(), 0);
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < b.size(); ++j) {
      digits[i + j + 1] += (a[i] - '0') * (b[j] - '0');
    }
  }
  for (size_t k = digits.size() - 1; k > 0; --k) {
    digits[k - 1] += digits[k] / 10;
    digits[k] %= 10;
  }
  std::string out;
  for (int d : digits) {
    if (out.empty() && d == 0) continue;
    out.push_back(static_cast<char>('0' + d));
  }
  return out.empty() ? "0" : out;
}

TEST(AmountTest, MultiplyMatchesNaiveProduct) {
  std::mt19937 random(7);
  auto number = [&](size_t length) {
    std::string digits(1, static_cast<char>('1' + random() % 9));
    while (digits.size() < length) digits.push_back(static_cast<char>('0' + random() % 10));
    return digits;
  };
  for (size_t la : {1, 8, 9, 10, 17, 18, 19, 40, 78, 160}) {
    for (size_t lb : {1, 9, 10, 27, 78}) {
      const std::string a = number(la);
      const std::string b = number(lb);
      absl::StatusOr<DecimalAmount> product = MultiplyAmounts({a, 0}, {b, 0}, 0);
      ASSERT_TRUE(product.ok()) << product.status();
      EXPECT_EQ(product->units, NaiveProduct(a, b)) << a << " x " << b;
    }
  }
}

TEST(AmountTest, MultiplyLimits) {
  EXPECT_FALSE(MultiplyAmounts({"01", 0}, {"1", 0}, 0).ok());
  EXPECT_FALSE(MultiplyAmounts({"1", 0}, {"-1", 0}, 0).ok());
  EXPECT_FALSE(MultiplyAmounts({"1", 256}, {"1", 0}, 0).ok());
  EXPECT_EQ(MultiplyAmounts({"1", 0}, {"1", 0}, 256).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Two 700-digit operands: a product of 1,399 digits is past the limit,
  // unless rounding brings it back under.
  const std::string big = "1" + std::string(699, '0');
  EXPECT_EQ(MultiplyAmounts({big, 0}, {big, 0}, 0).status().code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<DecimalAmount> rounded = MultiplyAmounts({big, 255}, {big, 255}, 0);
  ASSERT_TRUE(rounded.ok()) << rounded.status();
  EXPECT_EQ(*rounded, (DecimalAmount{"1" + std::string(1398 - 510, '0'), 0}));
  const std::string longest = "1" + std::string(kMaxArithmeticDigits - 1, '0');
  EXPECT_TRUE(MultiplyAmounts({longest, 0}, {"1", 0}, 0).ok());
  EXPECT_FALSE(MultiplyAmounts({longest + "0", 0}, {"1", 0}, 0).ok());
}

TEST(AmountTest, CompareAmounts) {
  EXPECT_EQ(CompareAmounts({"10", 1}, {"1", 0}), 0);
  EXPECT_EQ(CompareAmounts({"0", 0}, {"0", 255}), 0);
  EXPECT_LT(CompareAmounts({"0", 0}, {"1", 255}), 0);
  EXPECT_GT(CompareAmounts({"1", 255}, {"0", 0}), 0);
  EXPECT_LT(CompareAmounts({"999", 3}, {"1", 0}), 0);
  EXPECT_GT(CompareAmounts({"1001", 3}, {"1", 0}), 0);
  EXPECT_GT(CompareAmounts({"19", 0}, {"2", 0}), 0);
  EXPECT_GT(CompareAmounts({std::string(kMaxUint256), 0}, {std::string(kMaxUint256), 18}), 0);
  EXPECT_LT(CompareAmounts({"5185170000000000000000", 18}, {"5185170000000000000001", 18}), 0);
}

TEST(AmountTest, AmountRatio) {
  EXPECT_DOUBLE_EQ(*AmountRatio({"1", 0}, {"4", 0}), 0.25);
  EXPECT_DOUBLE_EQ(*AmountRatio({"25", 2}, {"1", 0}), 0.25);
  EXPECT_DOUBLE_EQ(*AmountRatio({"3", 0}, {"1", 0}), 3.0);
  EXPECT_EQ(*AmountRatio({"10", 1}, {"1", 0}), 1.0);
  EXPECT_EQ(*AmountRatio({"0", 0}, {"1", 0}), 0.0);
  EXPECT_EQ(*AmountRatio({"1", 0}, {"0", 0}), 0.0);
  // Lengths and scales far past a double's 17 digits.
  const std::string max(kMaxUint256);
  EXPECT_DOUBLE_EQ(*AmountRatio({max, 18}, {max + "0", 18}), 0.1);
  EXPECT_NEAR(*AmountRatio({"1", 255}, {"1", 0}), 1e-255, 1e-268);
  EXPECT_DOUBLE_EQ(*AmountRatio({"1", 0}, {"3", 0}), 1.0 / 3.0);
  // Nearly equal: never above 1 for a smaller numerator, never below 1
  // for a larger one.
  const std::string almost = max.substr(0, max.size() - 1) + "4";
  EXPECT_LE(*AmountRatio({almost, 0}, {max, 0}), 1.0);
  EXPECT_GE(*AmountRatio({max, 0}, {almost, 0}), 1.0);
  EXPECT_FALSE(AmountRatio({"-1", 0}, {"1", 0}).ok());
  EXPECT_FALSE(AmountRatio({"1", 0}, {"1", 256}).ok());
}

}  // namespace
}  // namespace coffer::chain
