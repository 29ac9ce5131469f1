#include "tests/testing/evm_hex.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::testing {
namespace {

constexpr char kMaxUint256[] =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

TEST(EvmHexTest, QuantitiesRoundTripExactlyUpToUint256Max) {
  EXPECT_EQ(*DecimalToQuantity("0"), "0x0");
  EXPECT_EQ(*DecimalToQuantity("27"), "0x1b");
  EXPECT_EQ(*DecimalToQuantity(kMaxUint256), "0x" + std::string(64, 'f'));
  EXPECT_EQ(*QuantityToDecimal("0x" + std::string(64, 'f')), kMaxUint256);
  EXPECT_EQ(*QuantityToDecimal("0x1B"), "27");
}

TEST(EvmHexTest, RejectsWhatIsNotAUint256) {
  EXPECT_FALSE(DecimalToQuantity("").ok());
  EXPECT_FALSE(DecimalToQuantity("-1").ok());
  EXPECT_FALSE(DecimalToQuantity("1e3").ok());
  // 2^256
  EXPECT_FALSE(DecimalToQuantity(
                   "115792089237316195423570985008687907853269984665640564039457584007913129639936")
                   .ok());
  EXPECT_FALSE(QuantityToDecimal("1b").ok());
  EXPECT_FALSE(QuantityToDecimal("0x").ok());
  EXPECT_FALSE(QuantityToDecimal("0x1" + std::string(64, '0')).ok());
  EXPECT_FALSE(QuantityToDecimal("0xzz").ok());
}

TEST(EvmHexTest, EncodesWords) {
  EXPECT_EQ(UintWord(0x40), std::string(62, '0') + "40");
  EXPECT_EQ(*DecimalWord("255"), std::string(62, '0') + "ff");
  EXPECT_EQ(AddressWord("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            std::string(24, '0') + "f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_EQ(TestAddress(1), "0x00000000000000000000000000c0ffee00000001");
  EXPECT_NE(TestAddress(1), TestAddress(2));
}

TEST(EvmHexTest, SplitsAndReadsWords) {
  absl::StatusOr<std::vector<std::string>> words =
      SplitWords("0x" + UintWord(32) + std::string(64, 'f'));
  ASSERT_TRUE(words.ok()) << words.status();
  ASSERT_EQ(words->size(), 2u);
  EXPECT_EQ(*WordToDecimal((*words)[0]), "32");
  EXPECT_EQ(*WordToDecimal((*words)[1]), kMaxUint256);
  EXPECT_TRUE(SplitWords("0x")->empty());
  EXPECT_FALSE(SplitWords("0x" + std::string(63, '0')).ok());
  EXPECT_FALSE(SplitWords(std::string(63, '0') + "g").ok());
  EXPECT_FALSE(WordToDecimal("ff").ok());
}

}  // namespace
}  // namespace coffer::testing
