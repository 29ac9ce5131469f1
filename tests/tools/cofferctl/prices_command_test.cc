// cofferctl prices against the whole system: the scheduler's prices task
// stores ether at the test price server's 3012.4567 USD, and the binary
// prints it exactly, latest and as history.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/integration/service_process.h"
#include "tests/testing/anvil_fetcher_config.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"

namespace coffer::testing {
namespace {

class CofferctlPricesTest : public SchedulerSystemTest {
 protected:
  // Account 1 with 1 ETH, balances then prices refreshed once.
  void StartWithStoredPrice() {
    StartFetcher();
    StartStorage();
    AddAccounts({{1, "1000000000000000000"}});
    ServiceProcess& scheduler = StartScheduler();
    auto api = SchedulerClient(scheduler);
    ASSERT_TRUE(
        CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1), /*paused=*/true)).ok());
    ASSERT_TRUE(CreateTask(*api, PricesTask("prices", absl::Hours(1), /*paused=*/true)).ok());
    for (const char* task : {"balances", "prices"}) {
      absl::StatusOr<v1::TriggerTaskResponse> run = Trigger(*api, task, /*wait=*/true);
      ASSERT_TRUE(run.ok()) << run.status();
      ASSERT_EQ(run->run().state(), v1::RUN_STATE_SUCCEEDED) << run->run().error().message();
    }
  }

  CommandOutput Cofferctl(const std::vector<std::string>& args) {
    return RunCofferctl(Prepend({"--storage=" + storage_process().address()}, args));
  }

  // `args` with --output=json: a success, parsed into `Message`.
  template <typename Message>
  Message CofferctlJson(const std::vector<std::string>& args) {
    return RunCofferctlJson<Message>(Prepend({"--storage=" + storage_process().address()}, args));
  }
};

TEST_F(CofferctlPricesTest, ShowsTheStoredPriceExactlyLatestAndAsHistory) {
  StartWithStoredPrice();

  CommandOutput table = Cofferctl({"prices"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  std::string ether_line;
  for (absl::string_view line : absl::StrSplit(table.stdout_text, '\n')) {
    if (absl::StrContains(line, kAnvilEther)) ether_line = std::string(line);
  }
  EXPECT_TRUE(absl::StrContains(ether_line, " usd ")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(ether_line, " 3012.4567 ")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(ether_line, "2026-09-21T")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(ether_line, "test-prices")) << table.stdout_text;
  EXPECT_TRUE(absl::StartsWith(table.stdout_text, "ASSET")) << table.stdout_text;

  auto latest = CofferctlJson<v1::GetLatestPricesResponse>({"prices", "--asset", kAnvilEther});
  ASSERT_EQ(latest.prices_size(), 1) << latest.DebugString();
  EXPECT_EQ(latest.prices(0).price().price().units(), kEtherUsdUnits);
  EXPECT_EQ(latest.prices(0).price().price().decimals(), kEtherUsdDecimals);
  EXPECT_EQ(latest.prices(0).price().price_time().seconds(), 1790000000);

  // Another quote currency has nothing stored: an empty answer, not an error.
  auto eur = CofferctlJson<v1::GetLatestPricesResponse>({"prices", "--quote", "eur"});
  EXPECT_EQ(eur.prices_size(), 0);

  // History: every asset priced in usd when none is named.
  auto history = CofferctlJson<v1::GetPriceHistoryResponse>({"prices", "--since", "2026-01-01"});
  ASSERT_EQ(history.prices_size(), 1) << history.DebugString();
  EXPECT_EQ(history.prices(0).asset_id(), kAnvilEther);
  EXPECT_EQ(history.prices(0).price().units(), kEtherUsdUnits);
  CommandOutput history_table =
      Cofferctl({"prices", "--asset", kAnvilEther, "--since", "2026-01-01"});
  ASSERT_EQ(history_table.exit_code, 0) << history_table.stderr_text;
  EXPECT_TRUE(absl::StrContains(history_table.stdout_text, " 3012.4567 "))
      << history_table.stdout_text;

  // A range before the price's time holds nothing.
  auto before = CofferctlJson<v1::GetPriceHistoryResponse>(
      {"prices", "--asset", kAnvilEther, "--since", "2026-01-01", "--until", "2026-09-01"});
  EXPECT_EQ(before.prices_size(), 0);

  // Mistakes: exit 2 before any call.
  CommandOutput bad_since = Cofferctl({"prices", "--since", "last week"});
  EXPECT_EQ(bad_since.exit_code, 2) << bad_since.stderr_text;
  EXPECT_TRUE(absl::StrContains(bad_since.stderr_text, "--since")) << bad_since.stderr_text;
  EXPECT_EQ(Cofferctl({"prices", "--until", "1d"}).exit_code, 2);
  EXPECT_EQ(Cofferctl({"prices", "--since", "1d", "--until", "2d"}).exit_code, 2);
}

}  // namespace
}  // namespace coffer::testing
