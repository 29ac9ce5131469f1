// cofferctl balances, portfolio and history against the whole system:
// anvil with known ether, the real services, refreshes run by the
// scheduler; the tables and JSON documents the binary prints are checked
// against the exact amounts. Plus SharePercent's exact rounding.
#include "tools/cofferctl/balance_commands.h"

#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/chain/amount.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/integration/service_process.h"
#include "tests/testing/anvil_fetcher_config.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"

namespace coffer::testing {
namespace {

using v1::Storage;

constexpr char kOneAndAHalf[] = "1500000000000000000";
constexpr char kTwoAndAQuarter[] = "2250000000000000000";
// Digits only, so their EIP-55 form is the same string.
constexpr char kPricedToken[] = "eip155:31337/erc20:0x1111111111111111111111111111111111111111";
constexpr char kUnpricedToken[] = "eip155:31337/erc20:0x2222222222222222222222222222222222222222";

v1::Amount MakeAmount(const std::string& units, uint32_t decimals) {
  v1::Amount amount;
  amount.set_units(units);
  amount.set_decimals(decimals);
  return amount;
}

std::string Exact(const v1::Amount& amount) {
  absl::StatusOr<std::string> text = chain::FormatUnits(amount.units(), amount.decimals());
  return text.ok() ? *text : text.status().ToString();
}

// The table line that mentions `needle`, or "" when none does. Ignoring
// case: storage answers addresses in their EIP-55 form, AddressOf() is
// lowercase.
std::string LineWith(const std::string& table, const std::string& needle) {
  const std::string lower_needle = absl::AsciiStrToLower(needle);
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    if (absl::StrContains(absl::AsciiStrToLower(line), lower_needle)) return std::string(line);
  }
  return "";
}

class CofferctlBalancesTest : public SchedulerSystemTest {
 protected:
  // The whole system with accounts 1 (1.5 ETH) and 2 (2.25 ETH) refreshed
  // once by a balances task (`balances`, paused: runs only when triggered).
  void StartWithRefreshedAccounts() {
    StartFetcher();
    StartStorage();
    AddAccounts({{1, kOneAndAHalf}, {2, kTwoAndAQuarter}});
    ServiceProcess& scheduler = StartScheduler();
    api_ = SchedulerClient(scheduler);
    ASSERT_TRUE(
        CreateTaskWhenReady(*api_, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());
    ASSERT_TRUE(CreateTask(*api_, PricesTask("prices", absl::Hours(1), /*paused=*/true)).ok());
    RefreshBalances();
  }

  // A forced run of `task_id`, waited for: fresh reads, not the fetcher's
  // cache.
  void RunTask(const std::string& task_id) {
    v1::TriggerTaskRequest request;
    request.set_task_id(task_id);
    request.set_force(true);
    request.set_wait(true);
    grpc_util::CallOptions options;
    options.timeout = absl::Seconds(120);
    absl::StatusOr<v1::TriggerTaskResponse> run =
        api_->CallBlocking(&v1::Scheduler::Stub::PrepareAsyncTriggerTask, request, options);
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_EQ(run->run().state(), v1::RUN_STATE_SUCCEEDED) << run->run().error().message();
  }
  void RefreshBalances() { RunTask("balances"); }
  void RefreshPrices() { RunTask("prices"); }

  // Writes one snapshot of `items` as a person would (no fence).
  void WriteSnapshot(const std::string& key, const std::vector<v1::BalanceItem>& items) {
    v1::WriteSnapshotRequest request;
    request.set_idempotency_key(key);
    for (const v1::BalanceItem& item : items) *request.add_items() = item;
    absl::StatusOr<v1::WriteSnapshotResponse> written =
        storage().CallBlocking(&Storage::Stub::PrepareAsyncWriteSnapshot, request);
    ASSERT_TRUE(written.ok()) << written.status();
  }

  static v1::BalanceItem Item(int account, const std::string& asset, const std::string& units,
                              uint32_t decimals) {
    v1::BalanceItem item;
    item.set_account_id(AccountId(account));
    item.set_asset_id(asset);
    *item.mutable_amount() = MakeAmount(units, decimals);
    return item;
  }

  CommandOutput Cofferctl(const std::vector<std::string>& args) {
    return RunCofferctl(Prepend({"--storage=" + storage_process().address()}, args));
  }

  // `args` with --output=json, parsed into `Message`; fails the test when
  // the command fails or prints anything but one document of that type.
  template <typename Message>
  Message CofferctlJson(const std::vector<std::string>& args) {
    return RunCofferctlJson<Message>(Prepend({"--storage=" + storage_process().address()}, args));
  }

  SchedulerClientPtr api_;
};

TEST_F(CofferctlBalancesTest, BalancesShowEachAccountsExactEtherAndMarkStaleReadings) {
  StartWithRefreshedAccounts();

  CommandOutput table = Cofferctl({"balances"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  const std::string first = LineWith(table.stdout_text, AddressOf(1));
  const std::string second = LineWith(table.stdout_text, AddressOf(2));
  EXPECT_TRUE(absl::StrContains(first, kAnvilEther)) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(first, " 1.5 ")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(second, " 2.25 ")) << table.stdout_text;
  EXPECT_FALSE(absl::StrContains(table.stdout_text, "NOTE")) << table.stdout_text;

  auto json = CofferctlJson<v1::GetLatestBalancesResponse>({"balances"});
  ASSERT_EQ(json.balances_size(), 2) << json.DebugString();
  EXPECT_EQ(absl::AsciiStrToLower(json.balances(0).account_id()), AccountId(1));
  EXPECT_EQ(json.balances(0).asset_id(), kAnvilEther);
  EXPECT_EQ(json.balances(0).amount().units(), kOneAndAHalf);
  EXPECT_EQ(json.balances(0).amount().decimals(), 18u);
  EXPECT_EQ(json.balances(1).amount().units(), kTwoAndAQuarter);
  EXPECT_FALSE(json.balances(0).has_error());

  // Filters reach storage: one account.
  auto one = CofferctlJson<v1::GetLatestBalancesResponse>({"balances", "--account", AccountId(2)});
  ASSERT_EQ(one.balances_size(), 1);
  EXPECT_EQ(one.balances(0).amount().units(), kTwoAndAQuarter);

  // The latest reading of account 1 fails: its last good value stays, said
  // to be stale, with the error.
  v1::BalanceItem failed;
  failed.set_account_id(AccountId(1));
  failed.set_asset_id(kAnvilEther);
  failed.mutable_error()->set_code(v1::Error::UNAVAILABLE);
  failed.mutable_error()->set_message("node unreachable");
  failed.mutable_error()->set_upstream("anvil-0");
  WriteSnapshot("failed-read", {failed});

  CommandOutput stale = Cofferctl({"balances"});
  ASSERT_EQ(stale.exit_code, 0) << stale.stderr_text;
  EXPECT_TRUE(absl::StrContains(stale.stdout_text, "NOTE")) << stale.stdout_text;
  const std::string stale_line = LineWith(stale.stdout_text, AddressOf(1));
  EXPECT_TRUE(absl::StrContains(stale_line, " 1.5 ")) << stale.stdout_text;
  EXPECT_TRUE(absl::StrContains(stale_line, "stale")) << stale.stdout_text;
  EXPECT_TRUE(absl::StrContains(stale_line, "UNAVAILABLE: node unreachable (anvil-0)"))
      << stale.stdout_text;
  EXPECT_FALSE(absl::StrContains(LineWith(stale.stdout_text, AddressOf(2)), "stale"));
  EXPECT_TRUE(absl::StrContains(stale.stderr_text, "1 of 2")) << stale.stderr_text;

  auto stale_json = CofferctlJson<v1::GetLatestBalancesResponse>({"balances"});
  ASSERT_EQ(stale_json.balances_size(), 2);
  EXPECT_EQ(stale_json.balances(0).error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(stale_json.balances(0).amount().units(), kOneAndAHalf);
}

TEST_F(CofferctlBalancesTest, PortfolioValuesAndSharesAreExact) {
  StartWithRefreshedAccounts();
  RefreshPrices();

  // Ether alone: 3.75 ETH x 3012.4567 USD.
  auto ether_only = CofferctlJson<v1::GetPortfolioResponse>({"portfolio"});
  EXPECT_EQ(ether_only.quote_currency(), "usd");
  ASSERT_EQ(ether_only.assets_size(), 1) << ether_only.DebugString();
  EXPECT_EQ(Exact(ether_only.assets(0).amount()), "3.75");
  EXPECT_EQ(Exact(ether_only.assets(0).value()), "11296.712625");
  EXPECT_EQ(Exact(ether_only.total_value()), "11296.712625");
  CommandOutput whole = Cofferctl({"portfolio"});
  ASSERT_EQ(whole.exit_code, 0) << whole.stderr_text;
  const std::string ether_line = LineWith(whole.stdout_text, kAnvilEther);
  EXPECT_TRUE(absl::StrContains(ether_line, "3012.4567")) << whole.stdout_text;
  EXPECT_TRUE(absl::StrContains(ether_line, "100.0%")) << whole.stdout_text;

  // A priced token worth a third of the ether (so 75% / 25%) and one
  // without a price, written by hand.
  WriteSnapshot("tokens",
                {Item(1, kPricedToken, "3765570875", 6), Item(2, kUnpricedToken, "42000000", 6)});
  v1::WritePricesRequest prices;
  v1::Price* price = prices.add_prices();
  price->set_asset_id(kPricedToken);
  price->set_quote_currency("usd");
  *price->mutable_price() = MakeAmount("1", 0);
  price->mutable_price_time()->set_seconds(1790000000);
  price->set_source("by-hand");
  ASSERT_TRUE(storage().CallBlocking(&Storage::Stub::PrepareAsyncWritePrices, prices).ok());

  auto json = CofferctlJson<v1::GetPortfolioResponse>({"portfolio", "--quote", "usd"});
  ASSERT_EQ(json.assets_size(), 3) << json.DebugString();
  EXPECT_EQ(json.assets(0).asset_id(), kAnvilEther);
  EXPECT_EQ(json.assets(1).asset_id(), kPricedToken);
  EXPECT_EQ(json.assets(2).asset_id(), kUnpricedToken);
  EXPECT_EQ(Exact(json.total_value()), "15062.2835");
  EXPECT_EQ(json.unpriced_assets(), 1u);

  CommandOutput table = Cofferctl({"portfolio"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  const std::string ether = LineWith(table.stdout_text, kAnvilEther);
  EXPECT_TRUE(absl::StrContains(ether, " 3.75 ")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(ether, " 11296.712625 ")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(ether, "75.0%")) << table.stdout_text;
  const std::string token = LineWith(table.stdout_text, kPricedToken);
  EXPECT_TRUE(absl::StrContains(token, " 3765.570875 ")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(token, "25.0%")) << table.stdout_text;
  const std::string unpriced = LineWith(table.stdout_text, kUnpricedToken);
  EXPECT_TRUE(absl::StrContains(unpriced, " 42 ")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(unpriced, "not in the total")) << table.stdout_text;
  EXPECT_FALSE(absl::StrContains(unpriced, "%")) << table.stdout_text;
  // The last line: the total of the priced assets.
  EXPECT_TRUE(absl::StrContains(table.stdout_text, "\nTOTAL (USD) ")) << table.stdout_text;
  EXPECT_TRUE(absl::EndsWith(table.stdout_text, " 15062.2835\n")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(table.stderr_text, "not in the total")) << table.stderr_text;
}

TEST_F(CofferctlBalancesTest, HistoryShowsEachRefreshInOrder) {
  StartWithRefreshedAccounts();
  ASSERT_TRUE(anvil().SetBalance(AddressOf(1), "4000000000000000000").ok());
  ASSERT_TRUE(anvil().Mine().ok());
  RefreshBalances();

  auto json = CofferctlJson<v1::GetBalanceHistoryResponse>(
      {"history", "--account", AccountId(1), "--since", "1h"});
  ASSERT_EQ(json.points_size(), 2) << json.DebugString();
  EXPECT_EQ(json.points(0).amount().units(), kOneAndAHalf);
  EXPECT_EQ(json.points(1).amount().units(), "4000000000000000000");
  EXPECT_LT(TimeOf(json.points(0).taken_at()), TimeOf(json.points(1).taken_at()));
  EXPECT_TRUE(json.page().next_page_token().empty());

  CommandOutput table = Cofferctl({"history", "--account", AccountId(1)});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  const size_t older = table.stdout_text.find(" 1.5 ");
  const size_t newer = table.stdout_text.find(" 4 ");
  ASSERT_NE(older, std::string::npos) << table.stdout_text;
  ASSERT_NE(newer, std::string::npos) << table.stdout_text;
  EXPECT_LT(older, newer) << table.stdout_text;

  // --limit keeps the newest points; by asset, every account's.
  auto newest = CofferctlJson<v1::GetBalanceHistoryResponse>(
      {"history", "--account", AccountId(1), "--limit", "1"});
  ASSERT_EQ(newest.points_size(), 1);
  EXPECT_EQ(newest.points(0).amount().units(), "4000000000000000000");
  auto by_asset = CofferctlJson<v1::GetBalanceHistoryResponse>({"history", "--asset", kAnvilEther});
  EXPECT_EQ(by_asset.points_size(), 4) << by_asset.DebugString();

  // A range that ends before the refreshes holds nothing.
  auto before = CofferctlJson<v1::GetBalanceHistoryResponse>(
      {"history", "--account", AccountId(1), "--since", "2020-01-01", "--until", "2020-02-01"});
  EXPECT_EQ(before.points_size(), 0);
}

// Mistakes on the command line exit 2 before any call; a storage that is
// down exits 1 with its address.
class CofferctlBalancesErrorsTest : public IntegrationTestBase {
 protected:
  CommandOutput Run(const std::vector<std::string>& args) { return RunCofferctl(args); }
};

TEST_F(CofferctlBalancesErrorsTest, UsageErrorsExit2AndStorageDownExits1) {
  CommandOutput bad_since = Run({"history", "--account", "eip155:1:0x1", "--since", "yesterday"});
  EXPECT_EQ(bad_since.exit_code, 2) << bad_since.stderr_text;
  EXPECT_TRUE(absl::StrContains(bad_since.stderr_text, "--since")) << bad_since.stderr_text;
  EXPECT_TRUE(bad_since.stdout_text.empty());

  EXPECT_EQ(Run({"history"}).exit_code, 2);
  EXPECT_EQ(Run({"history", "--asset", "a,b"}).exit_code, 2);
  EXPECT_EQ(Run({"history", "--asset", "x", "--limit", "-1"}).exit_code, 2);
  EXPECT_EQ(Run({"balances", "extra"}).exit_code, 2);
  EXPECT_EQ(Run({"portfolio", "--since", "1d"}).exit_code, 2);

  ServiceProcess& storage = StartService(Service::kStorage);
  const std::string address = storage.address();
  StopAndExpectCleanExit(storage, SIGTERM);
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"balances"}, {"portfolio"}, {"history", "--asset", kAnvilEther}, {"prices"}}) {
    std::vector<std::string> args = command;
    args.push_back("--storage=" + address);
    args.push_back("--timeout=5s");
    CommandOutput down = Run(args);
    EXPECT_EQ(down.exit_code, 1) << command[0] << ": " << down.stderr_text;
    EXPECT_TRUE(absl::StrContains(down.stderr_text, "storage at " + address))
        << command[0] << ": " << down.stderr_text;
    EXPECT_TRUE(down.stdout_text.empty()) << down.stdout_text;
  }
}

TEST(SharePercentTest, IsExactAndRoundsHalfUp) {
  using cofferctl::SharePercent;
  EXPECT_EQ(SharePercent(MakeAmount("625", 3), MakeAmount("1", 0)), "62.5%");
  EXPECT_EQ(SharePercent(MakeAmount("11296712625", 6), MakeAmount("150622835", 4)), "75.0%");
  EXPECT_EQ(SharePercent(MakeAmount("1", 0), MakeAmount("1", 0)), "100.0%");
  // 1/3 = 33.33..%, 2/3 = 66.66..%: down and up.
  EXPECT_EQ(SharePercent(MakeAmount("1", 0), MakeAmount("3", 0)), "33.3%");
  EXPECT_EQ(SharePercent(MakeAmount("2", 0), MakeAmount("3", 0)), "66.7%");
  // Exactly half a tenth rounds up; a hair below it does not, which a
  // double cannot tell apart at this many digits.
  EXPECT_EQ(SharePercent(MakeAmount("5", 4), MakeAmount("1", 0)), "0.1%");
  EXPECT_EQ(SharePercent(MakeAmount("49999999999999999999999", 27), MakeAmount("1", 0)), "<0.1%");
  EXPECT_EQ(SharePercent(MakeAmount("6254999999999999999999", 22), MakeAmount("1", 0)), "62.5%");
  EXPECT_EQ(SharePercent(MakeAmount("0", 0), MakeAmount("1", 0)), "0.0%");
  EXPECT_EQ(SharePercent(MakeAmount("1", 0), MakeAmount("0", 0)), "-");
  EXPECT_EQ(SharePercent(MakeAmount("x", 0), MakeAmount("1", 0)), "?");
}

}  // namespace
}  // namespace coffer::testing
