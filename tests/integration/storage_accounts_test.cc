// Accounts and snapshots through coffer-storage's gRPC API: accounts added (normalized,
// idempotent), listed, rejected by name, removed; stored encrypted.
#include <signal.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/integration_test_base.h"

namespace coffer::testing {
namespace {

using v1::Storage;

// EIP-55's own test address, given in lower case; and a BIP-173 address.
constexpr char kEvmLower[] = "eip155:1:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
constexpr char kEvmChecksum[] = "eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
constexpr char kBitcoin[] =
    "bip122:000000000019d6689c085ae165831e93:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";

class StorageAccountsTest : public IntegrationTestBase {};

TEST_F(StorageAccountsTest, AccountsThenSnapshotsThenLatestBalances) {
  ServiceProcess& storage = StartService(Service::kStorage);
  auto client = Client<Storage>(storage);

  v1::AddAccountsRequest add;
  auto* evm = add.add_accounts();
  evm->set_account_id(kEvmLower);
  evm->set_label("hot wallet label");
  add.add_accounts()->set_account_id(kBitcoin);
  auto added = client->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add);
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_EQ(added->results_size(), 2);
  EXPECT_EQ(added->results(0).account_id(), kEvmLower);               // as given
  EXPECT_EQ(added->results(0).account().account_id(), kEvmChecksum);  // as stored
  EXPECT_EQ(added->results(0).outcome(), v1::AccountResult::CREATED);

  // Idempotent: the same batch again changes nothing.
  auto again = client->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->results(0).outcome(), v1::AccountResult::UNCHANGED);

  // All or nothing: one bad item fails the batch, named, and nothing is written.
  v1::AddAccountsRequest bad;
  bad.set_all_or_nothing(true);
  bad.add_accounts()->set_account_id("eip155:1:0x1111111111111111111111111111111111111111");
  bad.add_accounts()->set_account_id("eip155:1:0x12");
  auto rejected = client->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, bad);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(rejected.status().message()).find("eip155:1:0x12"), std::string::npos)
      << rejected.status();

  auto listed =
      client->CallBlocking(&Storage::Stub::PrepareAsyncListAccounts, v1::ListAccountsRequest());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->accounts_size(), 2);

  v1::RemoveAccountsRequest remove;
  remove.add_account_ids(kBitcoin);
  auto removed = client->CallBlocking(&Storage::Stub::PrepareAsyncRemoveAccounts, remove);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(removed->results(0).removed());
  listed =
      client->CallBlocking(&Storage::Stub::PrepareAsyncListAccounts, v1::ListAccountsRequest());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->accounts_size(), 1);
  EXPECT_EQ(listed->accounts(0).account_id(), kEvmChecksum);
  EXPECT_EQ(listed->accounts(0).label(), "hot wallet label");

  // A snapshot: ETH read fine; then a refresh whose ETH read failed. The
  // latest balance keeps the last known value beside the error, never zero.
  const std::string eth = "eip155:1/slip44:60";
  for (int refresh = 0; refresh < 2; ++refresh) {
    v1::WriteSnapshotRequest write;
    write.set_idempotency_key("refresh-" + std::to_string(refresh));
    auto* item = write.add_items();
    item->set_account_id(kEvmChecksum);
    item->set_asset_id(eth);
    if (refresh == 0) {
      item->mutable_amount()->set_units("1500000000000000000");
      item->mutable_amount()->set_decimals(18);
    } else {
      item->mutable_error()->set_code(v1::Error::UNAVAILABLE);
      item->mutable_error()->set_message("node timed out");
    }
    auto written = client->CallBlocking(&Storage::Stub::PrepareAsyncWriteSnapshot, write);
    ASSERT_TRUE(written.ok()) << written.status();
  }
  v1::GetLatestBalancesRequest latest_request;
  latest_request.add_account_ids(kEvmChecksum);
  auto latest = client->CallBlocking(&Storage::Stub::PrepareAsyncGetLatestBalances, latest_request);
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_EQ(latest->balances_size(), 1);
  EXPECT_EQ(latest->balances(0).amount().units(), "1500000000000000000");
  EXPECT_EQ(latest->balances(0).error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(latest->balances(0).error().message(), "node timed out");

  // History of that balance: one value, then one failure (never a zero).
  v1::GetBalanceHistoryRequest history_request;
  history_request.set_account_id(kEvmChecksum);
  history_request.set_asset_id(eth);
  auto history =
      client->CallBlocking(&Storage::Stub::PrepareAsyncGetBalanceHistory, history_request);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->points_size(), 2);
  EXPECT_EQ(history->points(0).amount().units(), "1500000000000000000");
  EXPECT_TRUE(history->points(1).has_error());
  EXPECT_FALSE(history->points(1).has_amount());

  // Prices: written, then read back as the latest.
  v1::WritePricesRequest prices;
  v1::Price* price = prices.add_prices();
  price->set_asset_id(eth);
  price->set_quote_currency("usd");
  price->mutable_price()->set_units("312345");
  price->mutable_price()->set_decimals(2);
  price->mutable_price_time()->set_seconds(1764000000);
  auto wrote = client->CallBlocking(&Storage::Stub::PrepareAsyncWritePrices, prices);
  ASSERT_TRUE(wrote.ok()) << wrote.status();
  v1::GetLatestPricesRequest price_request;
  price_request.add_asset_ids(eth);
  auto latest_prices =
      client->CallBlocking(&Storage::Stub::PrepareAsyncGetLatestPrices, price_request);
  ASSERT_TRUE(latest_prices.ok()) << latest_prices.status();
  ASSERT_EQ(latest_prices->prices_size(), 1);
  EXPECT_EQ(latest_prices->prices(0).price().price().units(), "312345");

  // After a clean stop, the file holds neither the address nor the label.
  StopAndExpectCleanExit(storage, SIGTERM);
  std::ifstream in(storage.directory() + "/data/coffer.db", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  ASSERT_FALSE(bytes.str().empty());
  EXPECT_EQ(bytes.str().find("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), std::string::npos);
  EXPECT_EQ(bytes.str().find("hot wallet label"), std::string::npos);
}

}  // namespace
}  // namespace coffer::testing
