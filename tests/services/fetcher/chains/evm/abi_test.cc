#include "services/fetcher/chains/evm/abi.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "common/chain/evm_address.h"

namespace coffer::fetcher::evm {
namespace {

std::string Word(uint64_t value) {
  std::string digits = absl::StrCat(absl::Hex(value));
  return std::string(64 - digits.size(), '0') + digits;
}

TEST(AbiTest, EncodesBalanceOfAndDecimals) {
  EXPECT_EQ(EncodeBalanceOfCall("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"),
            "0x70a08231000000000000000000000000d8da6bf26964af9d7eed9e03e53415d37aa96045");
  EXPECT_EQ(EncodeDecimalsCall(), "0x313ce567");
}

TEST(AbiTest, EncodesAggregate3AsSolidityDoes) {
  // aggregate3([(0x..01, true, 0x313ce567)]), as `cast calldata` encodes it.
  const std::string data =
      EncodeAggregate3Call({{.target = "0x0000000000000000000000000000000000000001",
                             .allow_failure = true,
                             .call_data = "0x313ce567"}});
  EXPECT_EQ(data, absl::StrCat("0x82ad56cb", Word(0x20), Word(1), Word(0x20), Word(1), Word(1),
                               Word(0x60), Word(4), "313ce567", std::string(56, '0')));
}

TEST(AbiTest, DecodesAggregate3Results) {
  // [(true, uint256 7), (false, 0x)]
  const std::string result =
      absl::StrCat("0x", Word(0x20), Word(2), Word(0x40), Word(0xc0),  // offsets
                   Word(1), Word(0x40), Word(0x20), Word(7),           // element 0
                   Word(0), Word(0x40), Word(0));                      // element 1
  absl::StatusOr<std::vector<Call3Result>> decoded = DecodeAggregate3Result(result);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_TRUE((*decoded)[0].success);
  EXPECT_EQ(*DecodeUint256Result((*decoded)[0].return_data), "7");
  EXPECT_FALSE((*decoded)[1].success);
  EXPECT_EQ((*decoded)[1].return_data, "0x");
}

TEST(AbiTest, MalformedResultsAreErrorsNotCrashes) {
  const std::string good =
      absl::StrCat("0x", Word(0x20), Word(1), Word(0x20), Word(1), Word(0x40), Word(0x20), Word(7));
  ASSERT_TRUE(DecodeAggregate3Result(good).ok());
  // Every truncation, and offsets, counts and lengths pointing outside.
  for (size_t cut = 2; cut < good.size(); cut += 2) {
    EXPECT_FALSE(DecodeAggregate3Result(good.substr(0, cut)).ok()) << cut;
  }
  for (const std::string& bad :
       {absl::StrCat("0x", Word(0x20), Word(1000000)), absl::StrCat("0x", Word(0xffffffff)),
        absl::StrCat("0x", Word(0x20), Word(1), Word(0x20), Word(2), Word(0x40), Word(0x20),
                     Word(7)),  // success is neither 0 nor 1
        absl::StrCat("0x", Word(0x20), Word(1), Word(0x20), Word(1), Word(0x40), Word(0x1000)),
        std::string("0x123"), std::string("0xzz"), std::string("")}) {
    EXPECT_EQ(DecodeAggregate3Result(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

TEST(AbiTest, DecodesUint256AndDecimals) {
  EXPECT_EQ(*DecodeUint256Result(absl::StrCat("0x", std::string(64, 'f'))),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935");
  EXPECT_EQ(DecodeUint256Result("0x01").status().code(), absl::StatusCode::kDataLoss)
      << "a short answer is no balance";
  EXPECT_EQ(*DecodeDecimalsResult(absl::StrCat("0x", Word(6))), 6u);
  EXPECT_EQ(DecodeDecimalsResult(absl::StrCat("0x", Word(256))).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(AbiTest, ScannerCallAndResult) {
  const std::string call = EncodeScannerCall(
      "6080", "0x0000000000000000000000000000000000000002",
      {"0x0000000000000000000000000000000000000003", "0x0000000000000000000000000000000000000004"});
  EXPECT_EQ(call, absl::StrCat("0x6080", Word(2), Word(0x40), Word(2), Word(3), Word(4)));
  absl::StatusOr<std::vector<ScannedBalance>> decoded = DecodeScannerResult(
      absl::StrCat("0x", Word(0x20), Word(2), Word(1), Word(12345), Word(0), Word(0)));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_TRUE((*decoded)[0].success);
  EXPECT_EQ((*decoded)[0].units, "12345");
  EXPECT_FALSE((*decoded)[1].success);
  EXPECT_FALSE(DecodeScannerResult(absl::StrCat("0x", Word(0x20), Word(3), Word(1), Word(1))).ok());
}

TEST(AbiTest, BalanceOfFromParsedAddressMatchesTheStringForm) {
  absl::StatusOr<chain::EvmAddress> vitalik =
      chain::ParseEvmAddress("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045");
  ASSERT_TRUE(vitalik.ok()) << vitalik.status();
  EXPECT_EQ(EncodeBalanceOfCall(*vitalik),
            "0x70a08231000000000000000000000000d8da6bf26964af9d7eed9e03e53415d37aa96045");
}

TEST(AbiTest, EncodersRefuseWhatIsNotAnAddressWithCallDataNoNodeAccepts) {
  // A short address padded into the word would read another account.
  for (const char* bad : {"", "0x12", "d8dA6BF26964aF9D7eEd9e03E53415D37aA96045",
                          "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA9604g",
                          "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA9604500"}) {
    EXPECT_EQ(EncodeBalanceOfCall(bad), "") << bad;
    EXPECT_EQ(EncodeAggregate3Call({{.target = bad, .call_data = "0x313ce567"}}), "") << bad;
    EXPECT_EQ(EncodeScannerCall("6080", bad, {}), "") << bad;
    EXPECT_EQ(EncodeScannerCall("6080", "0x0000000000000000000000000000000000000002", {bad}), "")
        << bad;
  }
  EXPECT_EQ(EncodeAggregate3Call({{.target = "0x0000000000000000000000000000000000000001",
                                   .call_data = "0x313ce56"}}),
            "")
      << "odd call data";
  EXPECT_EQ(EncodeScannerCall("608", "0x0000000000000000000000000000000000000002", {}), "");
}

TEST(AbiTest, EncodesAggregate3OfSeveralCalls) {
  // [(token, false, balanceOf(0x..03)), (token, true, decimals())]: the
  // first element takes 6 words (4 of head, 36 bytes of data padded to 64),
  // so the second starts 0x40 + 0xc0 after the offsets' start.
  const std::string token = "0x00000000000000000000000000000000000000aa";
  const std::string balance_of = EncodeBalanceOfCall("0x0000000000000000000000000000000000000003");
  const std::string data = EncodeAggregate3Call(
      {{.target = token, .allow_failure = false, .call_data = balance_of},
       {.target = token, .allow_failure = true, .call_data = EncodeDecimalsCall()}});
  EXPECT_EQ(data, absl::StrCat("0x82ad56cb", Word(0x20), Word(2), Word(0x40), Word(0x100),
                               // element 0
                               Word(0xaa), Word(0), Word(0x60), Word(36), "70a08231", Word(3),
                               std::string(56, '0'),
                               // element 1
                               Word(0xaa), Word(1), Word(0x60), Word(4), "313ce567",
                               std::string(56, '0')));
  EXPECT_EQ(EncodeAggregate3Call({}), absl::StrCat("0x82ad56cb", Word(0x20), Word(0)));
}

TEST(AbiTest, Aggregate3ElementsSharingBytesCannotMultiplyTheInput) {
  // 100 results whose offsets all point at one element with 1 kB of return
  // data: valid offsets, but copying each would turn 4 kB into 100 kB.
  const size_t count = 100;
  std::string result = absl::StrCat("0x", Word(0x20), Word(count));
  for (size_t i = 0; i < count; ++i) result += Word(count * 32);
  result += absl::StrCat(Word(1), Word(0x40), Word(1024), std::string(2048, 'a'));
  EXPECT_EQ(DecodeAggregate3Result(result).status().code(), absl::StatusCode::kDataLoss);
  // The same element twice is within the budget: tolerated.
  const std::string twice = absl::StrCat("0x", Word(0x20), Word(2), Word(0x40), Word(0x40), Word(1),
                                         Word(0x40), Word(1), "ab", std::string(62, '0'));
  absl::StatusOr<std::vector<Call3Result>> decoded = DecodeAggregate3Result(twice);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[1].return_data, "0xab");
}

TEST(AbiTest, DecodesEmptyArrays) {
  EXPECT_TRUE(DecodeAggregate3Result(absl::StrCat("0x", Word(0x20), Word(0)))->empty());
  EXPECT_TRUE(DecodeUint256Array(absl::StrCat("0x", Word(0x20), Word(0)))->empty());
  EXPECT_TRUE(DecodeScannerResult(absl::StrCat("0x", Word(0x20), Word(0)))->empty());
}

TEST(AbiTest, DecodesUint256Arrays) {
  absl::StatusOr<std::vector<std::string>> values = DecodeUint256Array(
      absl::StrCat("0x", Word(0x20), Word(3), Word(0), Word(0xde0b6b3a7640000),
                   std::string(64, 'f'), Word(99)));  // a trailing word is ignored
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, (std::vector<std::string>{
                         "0", "1000000000000000000",
                         "115792089237316195423570985008687907853269984665640564039457584007913129"
                         "639935"}));
  // The offset is followed, not assumed.
  EXPECT_EQ(*DecodeUint256Array(absl::StrCat("0x", Word(0x40), Word(0xdead), Word(1), Word(5))),
            std::vector<std::string>{"5"});
  const std::string good = absl::StrCat("0x", Word(0x20), Word(2), Word(1), Word(2));
  for (size_t cut = 2; cut < good.size(); cut += 2) {
    EXPECT_EQ(DecodeUint256Array(good.substr(0, cut)).status().code(), absl::StatusCode::kDataLoss)
        << cut;
  }
  for (const std::string& bad :
       {absl::StrCat("0x", Word(0x20), Word(3), Word(1), Word(2)),  // count beyond the data
        absl::StrCat("0x", Word(0x60), Word(1), Word(1)),           // offset past the end
        absl::StrCat("0x", std::string(48, 'f'), std::string(16, '0'), Word(0)),  // huge offset
        absl::StrCat("0x", Word(0x20), std::string(64, 'f')),                     // huge count
        std::string("0x"), std::string("0x0")}) {
    EXPECT_EQ(DecodeUint256Array(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

TEST(AbiTest, CountsAreCappedEvenWhenTheDataHoldsThem) {
  const size_t count = kMaxAbiArrayLength + 1;
  std::string result = absl::StrCat("0x", Word(0x20), Word(count));
  result.append(count * 64, '0');
  EXPECT_EQ(DecodeUint256Array(result).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeAggregate3Result(result).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace coffer::fetcher::evm
