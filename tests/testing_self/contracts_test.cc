// tools/contracts on a real node: TestToken (OpenZeppelin ERC-20), our
// Multicall3 and the deployless BalanceScanner, driven with hand-encoded ABI
// through raw eth_calls, as the fetcher will drive them.
#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/anvil.h"
#include "tests/testing/evm_hex.h"
#include "tests/testing/test_contracts.h"

namespace coffer::testing {
namespace {

// What the fetcher embeds.
constexpr char kBalanceScannerCreationCode[] =
#include "tools/contracts/out/balance_scanner_bytecode.inc"
    ;

constexpr char kBalanceOf[] = "70a08231";    // balanceOf(address)
constexpr char kDecimals[] = "313ce567";     // decimals()
constexpr char kAggregate3[] = "82ad56cb";   // aggregate3((address,bool,bytes)[])
constexpr char kErrorString[] = "08c379a0";  // Error(string), a revert reason
// BalanceScanner's per-call limit (EIP-170 caps what a constructor returns).
constexpr size_t kScannerMaxAccounts = 383;

std::vector<std::string> Words(const std::string& hex) {
  absl::StatusOr<std::vector<std::string>> words = SplitWords(hex);
  EXPECT_TRUE(words.ok()) << words.status();
  return words.ok() ? *words : std::vector<std::string>();
}

std::string Decimal(const std::string& word) {
  absl::StatusOr<std::string> decimal = WordToDecimal(word);
  EXPECT_TRUE(decimal.ok()) << decimal.status();
  return decimal.ok() ? *decimal : "";
}

size_t WordIndex(const std::string& offset_word) {
  size_t bytes = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Decimal(offset_word), &bytes));
  EXPECT_EQ(bytes % 32, 0u);
  return bytes / 32;
}

struct Item {
  bool success;
  std::string balance;
};

class ContractsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = AnvilNode::SkipReason()) GTEST_SKIP() << *reason;
    absl::StatusOr<std::unique_ptr<AnvilNode>> node = AnvilNode::Start();
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
  }

  // Deploys TestToken(name, symbol, decimals).
  std::string DeployToken(uint8_t decimals) {
    absl::StatusOr<std::string> address = DeployTestToken(*node_, decimals);
    EXPECT_TRUE(address.ok()) << address.status();
    return address.ok() ? *address : "";
  }

  std::string Deploy(const std::string& contract, const std::string& args = "") {
    absl::StatusOr<std::string> address = DeployContract(*node_, contract, args);
    EXPECT_TRUE(address.ok()) << address.status();
    return address.ok() ? *address : "";
  }

  std::string BalanceOf(const std::string& token, const std::string& holder,
                        const std::string& block = "latest") {
    absl::StatusOr<std::string> result =
        node_->EthCall(token, absl::StrCat("0x", kBalanceOf, AddressWord(holder)), block);
    EXPECT_TRUE(result.ok()) << result.status();
    std::vector<std::string> words = Words(result.ok() ? *result : "");
    EXPECT_EQ(words.size(), 1u);
    return words.size() == 1 ? Decimal(words[0]) : "";
  }

  // Scan() over any number of accounts, in calls of at most the maximum.
  std::vector<Item> ScanAll(const std::string& token, const std::vector<std::string>& accounts) {
    std::vector<Item> items;
    for (size_t begin = 0; begin < accounts.size(); begin += kScannerMaxAccounts) {
      size_t end = std::min(accounts.size(), begin + kScannerMaxAccounts);
      std::vector<Item> chunk =
          Scan(token, std::vector<std::string>(accounts.begin() + begin, accounts.begin() + end));
      EXPECT_EQ(chunk.size(), end - begin);
      items.insert(items.end(), chunk.begin(), chunk.end());
    }
    return items;
  }

  // Runs the scanner over `accounts` (token "" = native balances) in one
  // eth_call and decodes its (bool success, uint256 balance)[] by the
  // documented layout.
  std::vector<Item> Scan(const std::string& token, const std::vector<std::string>& accounts,
                         const std::string& block = "latest") {
    std::string data =
        absl::StrCat(kBalanceScannerCreationCode, token.empty() ? UintWord(0) : AddressWord(token),
                     UintWord(0x40), UintWord(accounts.size()));
    for (const std::string& account : accounts) absl::StrAppend(&data, AddressWord(account));
    absl::StatusOr<std::string> result = node_->EthCall("", data, block);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    std::vector<std::string> words = Words(*result);
    EXPECT_EQ(words.size(), 2 + 2 * accounts.size());
    if (words.size() != 2 + 2 * accounts.size()) return {};
    EXPECT_EQ(Decimal(words[0]), "32");
    EXPECT_EQ(Decimal(words[1]), absl::StrCat(accounts.size()));
    std::vector<Item> items;
    for (size_t i = 0; i < accounts.size(); ++i) {
      const std::string& flag = words[2 + 2 * i];
      EXPECT_TRUE(flag == UintWord(0) || flag == UintWord(1)) << flag;
      items.push_back({flag == UintWord(1), Decimal(words[3 + 2 * i])});
    }
    return items;
  }

  std::unique_ptr<AnvilNode> node_;
};

TEST_F(ContractsTest, EmbeddedScannerIsTheArtifact) {
  EXPECT_EQ(std::string(kBalanceScannerCreationCode), ContractArtifact("BalanceScanner"));
  EXPECT_GT(std::string(kBalanceScannerCreationCode).size(), 100u);
}

TEST_F(ContractsTest, TokenBalanceOfReturnsMintedAmounts) {
  const std::string token = DeployToken(6);
  ASSERT_FALSE(token.empty());
  const std::string alice = TestAddress(1), bob = TestAddress(2);
  // Near 2^255: exact, with no machine integer in the way.
  const std::string big =
      "57896044618658097711785492504343953926634992332820282019728792003956564819967";
  ASSERT_TRUE(node_->Mint(token, alice, "1000").ok());
  ASSERT_TRUE(node_->Mint(token, bob, big).ok());
  ASSERT_TRUE(node_->Mint(token, alice, "234").ok());

  EXPECT_EQ(BalanceOf(token, alice), "1234");
  EXPECT_EQ(BalanceOf(token, bob), big);
  EXPECT_EQ(BalanceOf(token, TestAddress(3)), "0");
  absl::StatusOr<std::string> decimals = node_->EthCall(token, absl::StrCat("0x", kDecimals));
  ASSERT_TRUE(decimals.ok()) << decimals.status();
  EXPECT_EQ(*decimals, "0x" + UintWord(6));
}

// aggregate3 calldata for `calls` of (target, allowFailure, 36-byte data).
std::string Aggregate3Data(const std::vector<std::pair<std::string, bool>>& balance_of_calls,
                           const std::vector<std::string>& holders) {
  // Each Call3 tuple: target, allowFailure, offset of callData (0x60),
  // its length (0x24) and 36 bytes padded to two words: 6 words.
  std::string data = absl::StrCat("0x", kAggregate3, UintWord(0x20), UintWord(holders.size()));
  for (size_t i = 0; i < holders.size(); ++i) {
    absl::StrAppend(&data, UintWord(32 * holders.size() + i * 6 * 32));
  }
  for (size_t i = 0; i < holders.size(); ++i) {
    std::string call = absl::StrCat(kBalanceOf, AddressWord(holders[i]));
    call.resize(128, '0');
    absl::StrAppend(&data, AddressWord(balance_of_calls[i].first),
                    UintWord(balance_of_calls[i].second ? 1 : 0), UintWord(0x60), UintWord(0x24),
                    call);
  }
  return data;
}

// Decodes aggregate3's (bool success, bytes returnData)[] by its offsets.
std::vector<std::pair<bool, std::string>> DecodeResults(const std::string& hex) {
  std::vector<std::string> words = Words(hex);
  std::vector<std::pair<bool, std::string>> results;
  if (words.size() < 2) {
    ADD_FAILURE() << "short aggregate3 result " << hex;
    return results;
  }
  const size_t array = WordIndex(words[0]);
  size_t count = 0;
  EXPECT_TRUE(absl::SimpleAtoi(Decimal(words[array]), &count));
  const size_t heads = array + 1;
  for (size_t i = 0; i < count; ++i) {
    const size_t tuple = heads + WordIndex(words[heads + i]);
    const size_t bytes = tuple + WordIndex(words[tuple + 1]);
    size_t length = 0;
    EXPECT_TRUE(absl::SimpleAtoi(Decimal(words[bytes]), &length));
    std::string data;
    for (size_t w = 0; w < (length + 31) / 32; ++w) data += words[bytes + 1 + w];
    data.resize(2 * length);
    results.emplace_back(words[tuple] == UintWord(1), data);
  }
  return results;
}

TEST_F(ContractsTest, Aggregate3ReturnsEachCallsResult) {
  const std::string token = DeployToken(18);
  const std::string multicall = Deploy("Multicall3");
  const std::string reverting = Deploy("RevertingToken");
  ASSERT_FALSE(token.empty() || multicall.empty() || reverting.empty());
  const std::string alice = TestAddress(1), bob = TestAddress(2), carol = TestAddress(3);
  ASSERT_TRUE(node_->Mint(token, alice, "5").ok());
  ASSERT_TRUE(node_->Mint(token, bob, "1000000000000000000000000").ok());

  absl::StatusOr<std::string> result = node_->EthCall(
      multicall,
      Aggregate3Data({{token, false}, {token, false}, {token, false}}, {alice, bob, carol}));
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<std::pair<bool, std::string>> results = DecodeResults(*result);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].first && results[1].first && results[2].first);
  EXPECT_EQ(results[0].second, UintWord(5));
  EXPECT_EQ(Decimal(results[1].second), "1000000000000000000000000");
  EXPECT_EQ(results[2].second, UintWord(0));

  // A failure that is allowed fails its own item only, with the revert data.
  result = node_->EthCall(multicall,
                          Aggregate3Data({{token, false}, {reverting, true}}, {alice, alice}));
  ASSERT_TRUE(result.ok()) << result.status();
  results = DecodeResults(*result);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].first);
  EXPECT_EQ(results[0].second, UintWord(5));
  EXPECT_FALSE(results[1].first);
  EXPECT_THAT(results[1].second, ::testing::StartsWith(kErrorString));

  // One that is not allowed reverts the whole call.
  result = node_->EthCall(multicall,
                          Aggregate3Data({{token, false}, {reverting, false}}, {alice, alice}));
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              ::testing::HasSubstr("Multicall3: call failed"));
}

TEST_F(ContractsTest, ScannerReadsTokenBalancesOfAThousandAccounts) {
  const std::string token = DeployToken(18);
  ASSERT_FALSE(token.empty());
  std::vector<std::string> accounts;
  for (uint32_t i = 0; i < 1000; ++i) accounts.push_back(TestAddress(i));
  const std::map<int, std::string> minted = {
      {0, "1"},
      {7, "777000000000000000000"},
      {500, "500"},
      {999, "115792089237316195423570985008687907853269984665640564039457584007913129639935"}};
  // The maximum supply is 2^256-1: mint everything else first, then the max
  // would overflow; so mint the max alone to its own token below instead.
  for (const auto& [index, amount] : minted) {
    if (index == 999) continue;
    ASSERT_TRUE(node_->Mint(token, accounts[index], amount).ok());
  }
  absl::StatusOr<uint64_t> before_last = node_->BlockNumber();
  ASSERT_TRUE(before_last.ok()) << before_last.status();
  ASSERT_TRUE(node_->Mint(token, accounts[999], "999").ok());

  std::vector<Item> items = ScanAll(token, accounts);
  ASSERT_EQ(items.size(), 1000u);
  for (size_t i = 0; i < items.size(); ++i) {
    std::string expected = "0";
    if (auto it = minted.find(static_cast<int>(i)); it != minted.end()) expected = it->second;
    if (i == 999) expected = "999";
    EXPECT_TRUE(items[i].success) << i;
    EXPECT_EQ(items[i].balance, expected) << i;
  }

  // At a past block the scan reads that block's state.
  items = Scan(token, {accounts[999], accounts[7]}, absl::StrCat("0x", absl::Hex(*before_last)));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].balance, "0");
  EXPECT_EQ(items[1].balance, "777000000000000000000");

  // uint256's maximum comes back whole.
  const std::string rich = DeployToken(0);
  ASSERT_TRUE(node_->Mint(rich, accounts[999], minted.at(999)).ok());
  items = Scan(rich, {accounts[998], accounts[999]});
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].balance, "0");
  EXPECT_EQ(items[1].balance, minted.at(999));
}

TEST_F(ContractsTest, ScannerReadsNativeBalances) {
  std::vector<std::string> accounts;
  for (uint32_t i = 0; i < 1000; ++i) accounts.push_back(TestAddress(i));
  ASSERT_TRUE(node_->SetBalance(accounts[3], "3").ok());
  ASSERT_TRUE(node_->SetBalance(accounts[998], "123456789012345678901234567890").ok());
  accounts.push_back(node_->account(0));  // a funded dev account: 10,000 ether

  std::vector<Item> items = ScanAll("", accounts);
  ASSERT_EQ(items.size(), 1001u);
  for (size_t i = 0; i < items.size(); ++i) {
    std::string expected = "0";
    if (i == 3) expected = "3";
    if (i == 998) expected = "123456789012345678901234567890";
    if (i == 1000) expected = "10000000000000000000000";
    EXPECT_TRUE(items[i].success) << i;
    EXPECT_EQ(items[i].balance, expected) << i;
  }
}

TEST_F(ContractsTest, ScannerFailsABrokenTokensItemsOnly) {
  const std::string reverting = Deploy("RevertingToken");
  const std::string short_return = Deploy("ShortReturnToken");
  ASSERT_FALSE(reverting.empty() || short_return.empty());
  std::vector<std::string> accounts;
  for (uint32_t i = 0; i < 1000; ++i) accounts.push_back(TestAddress(i));

  // Reverts, one-byte answers, and an address with no code at all: every
  // item fails with balance 0, and the call itself still succeeds.
  for (const std::string& token : {reverting, short_return, TestAddress(424242)}) {
    std::vector<Item> items = ScanAll(token, accounts);
    ASSERT_EQ(items.size(), 1000u) << token;
    for (size_t i = 0; i < items.size(); ++i) {
      EXPECT_FALSE(items[i].success) << token << " " << i;
      EXPECT_EQ(items[i].balance, "0") << token << " " << i;
    }
  }

  // An empty list is a valid, empty answer.
  EXPECT_TRUE(Scan(reverting, {}).empty());
}

TEST_F(ContractsTest, ScannerTakesAtMost383AccountsPerCall) {
  const std::string token = DeployToken(18);
  ASSERT_FALSE(token.empty());
  std::vector<std::string> accounts;
  for (uint32_t i = 0; i < kScannerMaxAccounts; ++i) accounts.push_back(TestAddress(i));
  ASSERT_TRUE(node_->Mint(token, accounts.back(), "383").ok());
  std::vector<Item> items = Scan(token, accounts);
  ASSERT_EQ(items.size(), kScannerMaxAccounts);
  EXPECT_TRUE(items.back().success);
  EXPECT_EQ(items.back().balance, "383");

  // One more is refused as a whole, with a reason, rather than by the node's
  // code-size check.
  std::string data = absl::StrCat(kBalanceScannerCreationCode, AddressWord(token), UintWord(0x40),
                                  UintWord(kScannerMaxAccounts + 1));
  for (uint32_t i = 0; i <= kScannerMaxAccounts; ++i)
    absl::StrAppend(&data, AddressWord(TestAddress(i)));
  absl::StatusOr<std::string> result = node_->EthCall("", data);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              ::testing::HasSubstr("BalanceScanner: at most 383 accounts"));
}

}  // namespace
}  // namespace coffer::testing
