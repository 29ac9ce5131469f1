#include "services/fetcher/chains/bitcoin/esplora.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

using ::testing::HasSubstr;

constexpr char kMainnetBech32[] = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
constexpr char kMainnetP2pkh[] = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2";
constexpr char kTestnetBech32[] = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";

std::string Body(const std::string& chain_funded, const std::string& chain_spent,
                 const std::string& mempool_funded = "0", const std::string& mempool_spent = "0") {
  return absl::StrCat(R"({"address":"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",)",
                      R"("chain_stats":{"funded_txo_count":3,"funded_txo_sum":)", chain_funded,
                      R"(,"spent_txo_count":1,"spent_txo_sum":)", chain_spent,
                      R"(,"tx_count":4},"mempool_stats":{"funded_txo_count":0,"funded_txo_sum":)",
                      mempool_funded, R"(,"spent_txo_count":0,"spent_txo_sum":)", mempool_spent,
                      R"(,"tx_count":0}})");
}

void ExpectDataLoss(const std::string& body, const std::string& message) {
  absl::StatusOr<EsploraAddressBalance> balance = ParseEsploraAddress(body, kMainnetBech32);
  ASSERT_FALSE(balance.ok()) << body;
  EXPECT_EQ(balance.status().code(), absl::StatusCode::kDataLoss) << body;
  EXPECT_THAT(std::string(balance.status().message()), HasSubstr(message)) << body;
}

TEST(EsploraAddressPathTest, NormalizesAndChecksTheNetwork) {
  EXPECT_EQ(*EsploraAddressPath(kMainnetBech32, chain::BitcoinNetwork::kMainnet),
            std::string("/address/") + kMainnetBech32);
  EXPECT_EQ(*EsploraAddressPath("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
                                chain::BitcoinNetwork::kMainnet),
            std::string("/address/") + kMainnetBech32);
  EXPECT_EQ(*EsploraAddressPath(kMainnetP2pkh, chain::BitcoinNetwork::kMainnet),
            std::string("/address/") + kMainnetP2pkh);
  EXPECT_EQ(*EsploraAddressPath(kTestnetBech32, chain::BitcoinNetwork::kTestnet),
            std::string("/address/") + kTestnetBech32);
}

TEST(EsploraAddressPathTest, RejectsBadAndForeignAddresses) {
  EXPECT_EQ(EsploraAddressPath(kTestnetBech32, chain::BitcoinNetwork::kMainnet).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EsploraAddressPath("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx",
                               chain::BitcoinNetwork::kMainnet)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EsploraAddressPath("../blocks/tip", chain::BitcoinNetwork::kMainnet).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EsploraAddressPath("", chain::BitcoinNetwork::kMainnet).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EsploraAddressTest, ConfirmedIsFundedMinusSpentAndMempoolIsSeparate) {
  absl::StatusOr<EsploraAddressBalance> balance =
      ParseEsploraAddress(Body("150000000", "50000000", "2000", "3000"), kMainnetBech32);
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_EQ(balance->confirmed, "100000000");
  EXPECT_EQ(balance->unconfirmed_incoming, "2000");
  // Spending confirmed outputs: outgoing above incoming is normal.
  EXPECT_EQ(balance->unconfirmed_outgoing, "3000");
}

TEST(EsploraAddressTest, EmptyAddressIsZeroNotAnError) {
  absl::StatusOr<EsploraAddressBalance> balance = ParseEsploraAddress(Body("0", "0"));
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_EQ(balance->confirmed, "0");
  EXPECT_EQ(balance->unconfirmed_incoming, "0");
  EXPECT_EQ(balance->unconfirmed_outgoing, "0");
}

TEST(EsploraAddressTest, ExactUpToUint64) {
  absl::StatusOr<EsploraAddressBalance> balance =
      ParseEsploraAddress(Body("18446744073709551615", "1"));
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_EQ(balance->confirmed, "18446744073709551614");
  // A double would have rounded this one.
  balance = ParseEsploraAddress(Body("9007199254740993", "0"));
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_EQ(balance->confirmed, "9007199254740993");
}

TEST(EsploraAddressTest, RejectsBadNumbersNamingTheField) {
  ExpectDataLoss(Body("18446744073709551616", "0"), "chain_stats.funded_txo_sum: does not fit");
  ExpectDataLoss(Body("-1", "0"), "chain_stats.funded_txo_sum: is negative");
  ExpectDataLoss(Body("1.5", "0"), "chain_stats.funded_txo_sum: is not an integer");
  ExpectDataLoss(Body("1e3", "0"), "chain_stats.funded_txo_sum: is not an integer");
  ExpectDataLoss(Body("100", "\"5\""), "chain_stats.spent_txo_sum: is not a number");
  ExpectDataLoss(Body("100", "null"), "chain_stats.spent_txo_sum: is not a number");
  ExpectDataLoss(Body("100", "0", "true"), "mempool_stats.funded_txo_sum: is not a number");
  ExpectDataLoss(Body("100", "0", "0", "-7"), "mempool_stats.spent_txo_sum: is negative");
  ExpectDataLoss(Body("100", "101"), "chain_stats.spent_txo_sum: exceeds funded_txo_sum");
}

TEST(EsploraAddressTest, RejectsWrongShapes) {
  ExpectDataLoss("", "malformed JSON");
  ExpectDataLoss("not json", "malformed JSON");
  ExpectDataLoss("[]", "body: is not an object");
  ExpectDataLoss("{}", "chain_stats: is missing");
  ExpectDataLoss(R"({"chain_stats":[]})", "chain_stats: is not an object");
  ExpectDataLoss(R"({"chain_stats":{"funded_txo_sum":1}})",
                 "chain_stats.spent_txo_sum: is missing");
  ExpectDataLoss(R"({"chain_stats":{"funded_txo_sum":1,"spent_txo_sum":0}})",
                 "mempool_stats: is missing");
  const std::string body = Body("1", "0");
  ExpectDataLoss(body.substr(0, body.size() / 2), "malformed JSON");
  ExpectDataLoss(body + "garbage", "malformed JSON");
  ExpectDataLoss(body + std::string(1, '\0') + "x", "NUL");
  ExpectDataLoss(std::string(100'000, '['), "");  // too large
  ExpectDataLoss(std::string(1'000, '[') + std::string(1'000, ']'), "nested deeper");
  ExpectDataLoss("{\"chain_stats\":\"\xff\xfe\"}", "malformed JSON");
}

TEST(EsploraAddressTest, ChecksTheAddressAnswered) {
  ExpectDataLoss(absl::StrCat(R"({"address":"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",)",
                              Body("1", "0").substr(56)),
                 "address: is not the address asked for");
  ExpectDataLoss(absl::StrCat(R"({"address":7,)", Body("1", "0").substr(56)),
                 "address: is not a string");
  // Bech32 in another case is the same address.
  EXPECT_TRUE(
      ParseEsploraAddress(Body("1", "0"), "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ").ok());
  // Without an expected address nothing is compared.
  EXPECT_TRUE(ParseEsploraAddress(Body("1", "0")).ok());
}

TEST(EsploraTipTest, Height) {
  EXPECT_EQ(*ParseEsploraTipHeight("830000"), 830000u);
  EXPECT_EQ(*ParseEsploraTipHeight("830000\n"), 830000u);
  EXPECT_EQ(*ParseEsploraTipHeight("0"), 0u);
  for (const char* bad :
       {"", " \n", "abc", "-1", "0123", "1.5", "1 2", "18446744073709551616", "{\"height\":1}"}) {
    EXPECT_EQ(ParseEsploraTipHeight(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  EXPECT_EQ(ParseEsploraTipHeight(std::string(1000, '1')).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(EsploraTipTest, Hash) {
  const std::string hash = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";
  EXPECT_EQ(*ParseEsploraTipHash(hash + "\n"), hash);
  std::string upper = hash;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(*ParseEsploraTipHash(upper), hash);
  for (const std::string& bad : {std::string(""), hash.substr(1), "0x" + hash.substr(2),
                                 hash.substr(1) + "g", hash + "00"}) {
    EXPECT_EQ(ParseEsploraTipHash(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
}

}  // namespace
}  // namespace coffer::fetcher
