#include "services/fetcher/chains/evm/hex_quantity.h"

#include <string>

#include "gtest/gtest.h"

namespace coffer::fetcher::evm {
namespace {

constexpr char kMaxUint256[] =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

TEST(HexQuantityTest, ConvertsExactlyUpTo2To256Minus1) {
  EXPECT_EQ(*HexQuantityToDecimal("0x0"), "0");
  EXPECT_EQ(*HexQuantityToDecimal("0x1"), "1");
  EXPECT_EQ(*HexQuantityToDecimal("0xde0b6b3a7640000"), "1000000000000000000");
  EXPECT_EQ(*HexQuantityToDecimal("0x1bc16d674ec80000"), "2000000000000000000");
  EXPECT_EQ(*HexQuantityToDecimal("0x10000000000000000"), "18446744073709551616");
  EXPECT_EQ(*HexQuantityToDecimal("0x" + std::string(64, 'f')), kMaxUint256);
  EXPECT_EQ(*HexQuantityToDecimal("0X" + std::string(64, 'F')), kMaxUint256)
      << "either case of prefix and digits";
}

TEST(HexQuantityTest, ToleratesLeadingZerosAsDocumented) {
  EXPECT_EQ(*HexQuantityToDecimal("0x" + std::string(62, '0') + "2A"), "42");
  EXPECT_EQ(*HexQuantityToDecimal("0x00"), "0");
  // Zeros do not count towards the 64-digit limit: only significant digits.
  EXPECT_EQ(*HexQuantityToDecimal("0x" + std::string(100, '0') + std::string(64, 'f')),
            kMaxUint256);
  EXPECT_EQ(*ParseUint64Quantity("0x" + std::string(40, '0') + "10"), 16u);
}

TEST(HexQuantityTest, RejectsWhatIsNotAQuantity) {
  for (const char* bad : {"", "0", "0x", "0X", "12", "x12", "0xg1", "0x-1", "-0x1", " 0x1", "0x1 ",
                          "0x1.5", "0x+1"}) {
    EXPECT_EQ(HexQuantityToDecimal(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_EQ(ParseUint64Quantity(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  EXPECT_EQ(HexQuantityToDecimal("0x1" + std::string(64, '0')).status().code(),
            absl::StatusCode::kDataLoss)
      << "2^256 does not fit";
  EXPECT_NE(HexQuantityToDecimal("0x").status().message().find("no digits"), std::string::npos);
}

TEST(HexQuantityTest, AbiWordsAreExactly64Digits) {
  EXPECT_EQ(*AbiWordToDecimal(std::string(63, '0') + "7"), "7");
  EXPECT_EQ(*AbiWordToDecimal(std::string(64, 'f')), kMaxUint256);
  EXPECT_EQ(*AbiWordToDecimal(std::string(48, '0') + "0de0b6b3a7640000"), "1000000000000000000");
  EXPECT_EQ(AbiWordToDecimal(std::string(63, '0')).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(AbiWordToDecimal(std::string(65, '0')).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(AbiWordToDecimal("0x" + std::string(62, '0')).status().code(),
            absl::StatusCode::kDataLoss)
      << "words carry no prefix";
  EXPECT_EQ(HexDigitsToDecimal("2a").value(), "42");
  EXPECT_EQ(HexDigitsToDecimal("").status().code(), absl::StatusCode::kDataLoss);
}

// Values up to 64 bits, up to 128 and beyond take different conversions:
// each exact at its edges, each refusing a bad digit.
TEST(HexQuantityTest, ExactAcrossTheConversionsWidths) {
  EXPECT_EQ(*HexDigitsToDecimal(std::string(16, 'f')), "18446744073709551615");
  EXPECT_EQ(*HexDigitsToDecimal("1" + std::string(16, '0')), "18446744073709551616");
  EXPECT_EQ(*HexDigitsToDecimal(std::string(32, 'f')), "340282366920938463463374607431768211455");
  EXPECT_EQ(*HexDigitsToDecimal("1" + std::string(32, '0')),
            "340282366920938463463374607431768211456");
  EXPECT_EQ(*HexDigitsToDecimal("8ac7230489e80000"), "10000000000000000000");
  EXPECT_EQ(*HexDigitsToDecimal("0c9f2c9cd04674edea40000000"), "1000000000000000000000000000000");
  for (const std::string& bad :
       {std::string(15, '1') + "g", std::string(31, '1') + "g", std::string(63, '1') + "g"}) {
    EXPECT_EQ(HexDigitsToDecimal(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

TEST(HexQuantityTest, BlockNumbersRoundTrip) {
  for (uint64_t value : {uint64_t{0}, uint64_t{42}, uint64_t{19'000'000}, ~uint64_t{0}}) {
    EXPECT_EQ(*ParseUint64Quantity(ToHexQuantity(value)), value);
  }
  EXPECT_EQ(ToHexQuantity(0), "0x0");
  EXPECT_EQ(ToHexQuantity(42), "0x2a");
  EXPECT_EQ(*ParseUint64Quantity("0xffffffffffffffff"), ~uint64_t{0});
  EXPECT_EQ(ParseUint64Quantity("0x10000000000000000").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_NE(ParseUint64Quantity("0x1000000000000000g").status().message().find("hex digit"),
            std::string::npos)
      << "a bad digit is reported as one even past 16 digits";
}

TEST(HexQuantityTest, DecimalsBecomeQuantities) {
  EXPECT_EQ(*DecimalToHexQuantity("0"), "0x0");
  EXPECT_EQ(*DecimalToHexQuantity("000"), "0x0");
  EXPECT_EQ(*DecimalToHexQuantity("42"), "0x2a");
  EXPECT_EQ(*DecimalToHexQuantity("1000000000000000000"), "0xde0b6b3a7640000");
  EXPECT_EQ(*DecimalToHexQuantity(kMaxUint256), "0x" + std::string(64, 'f'));
  EXPECT_EQ(*DecimalToHexQuantity(std::string(100, '0') + "16"), "0x10");
  // 2^256 and anything longer.
  EXPECT_EQ(DecimalToHexQuantity(
                "115792089237316195423570985008687907853269984665640564039457584007913129639936")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecimalToHexQuantity(std::string(79, '9')).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"", "-1", "+1", "1.0", "0x10", " 1", "1e3"}) {
    EXPECT_EQ(DecimalToHexQuantity(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // Round trip both ways.
  for (const char* decimal : {"0", "1", "255", "18446744073709551616", kMaxUint256}) {
    EXPECT_EQ(*HexQuantityToDecimal(*DecimalToHexQuantity(decimal)), decimal);
  }
}

}  // namespace
}  // namespace coffer::fetcher::evm
