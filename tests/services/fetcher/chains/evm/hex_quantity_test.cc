#include "services/fetcher/chains/evm/hex_quantity.h"

#include <string>

#include "gtest/gtest.h"

namespace coffer::fetcher::evm {
namespace {

TEST(HexQuantityTest, ConvertsExactlyUpTo2To256Minus1) {
  EXPECT_EQ(*HexQuantityToDecimal("0x0"), "0");
  EXPECT_EQ(*HexQuantityToDecimal("0xde0b6b3a7640000"), "1000000000000000000");
  EXPECT_EQ(*HexQuantityToDecimal("0x10000000000000000"), "18446744073709551616");
  EXPECT_EQ(*HexQuantityToDecimal("0x" + std::string(64, 'f')),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935");
  // Leading zeros (a 32-byte word) are tolerated.
  EXPECT_EQ(*HexQuantityToDecimal("0x" + std::string(62, '0') + "2A"), "42");
}

TEST(HexQuantityTest, RejectsWhatIsNotAQuantity) {
  for (const char* bad : {"", "0x", "12", "0xg1", "0x-1", " 0x1", "0x1 "}) {
    EXPECT_EQ(HexQuantityToDecimal(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  EXPECT_EQ(HexQuantityToDecimal("0x1" + std::string(64, '0')).status().code(),
            absl::StatusCode::kDataLoss)
      << "2^256 does not fit";
}

TEST(HexQuantityTest, BlockNumbersRoundTrip) {
  for (uint64_t value : {uint64_t{0}, uint64_t{42}, uint64_t{19'000'000}, ~uint64_t{0}}) {
    EXPECT_EQ(*ParseUint64Quantity(ToHexQuantity(value)), value);
  }
  EXPECT_EQ(ToHexQuantity(42), "0x2a");
  EXPECT_EQ(ParseUint64Quantity("0x10000000000000000").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace coffer::fetcher::evm
