// cofferctl query through the real fetcher on anvil: exact tables and JSON,
// ids from stdin, per-item errors, block pinning, lists split over several
// requests (and split further when the fetcher refuses one as too large),
// and the exit status of each.
#include "tools/cofferctl/query_command.h"

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "coffer/v1/fetcher.pb.h"
#include "common/chain/caip.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/testing/anvil_fetcher_config.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"
#include "tools/cofferctl/command.h"

namespace coffer::testing {
namespace {

using ::testing::HasSubstr;

// One table line: ACCOUNT (55 wide: "eip155:31337:" and an address), ASSET
// (22: ether's id), BALANCE (right-aligned to `balance_width`), BLOCK
// (right-aligned, 5 wide while heights are short), ERROR.
std::string Line(const std::string& account, const std::string& asset, const std::string& balance,
                 int balance_width, const std::string& block, const std::string& error = "") {
  std::string line = absl::StrFormat("%-55s  %-22s  %*s  %5s  %s", account, asset, balance_width,
                                     balance, block, error);
  absl::StripTrailingAsciiWhitespace(&line);
  return line + "\n";
}

class CofferctlQueryTest : public SchedulerSystemTest {
 protected:
  CommandOutput Query(const std::string& fetcher, const std::vector<std::string>& args,
                      std::optional<std::string> stdin_text = std::nullopt) {
    return RunCofferctl(Prepend({"--fetcher=" + fetcher, "query"}, args), std::move(stdin_text));
  }
  CommandOutput Query(std::vector<std::string> args,
                      std::optional<std::string> stdin_text = std::nullopt) {
    return Query(fetcher_process().address(), std::move(args), std::move(stdin_text));
  }

  static v1::QueryBalancesResponse Parse(const CommandOutput& output) {
    return ParseJson<v1::QueryBalancesResponse>(output.stdout_text);
  }

  // The id the fetcher answers for account n (EIP-55).
  static std::string Normal(int n) {
    absl::StatusOr<std::string> id = chain::NormalizeAccountId(AccountId(n));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  uint64_t Head() {
    absl::StatusOr<uint64_t> head = anvil().BlockNumber();
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? *head : 0;
  }
};

TEST_F(CofferctlQueryTest, TableAndJsonAreExact) {
  ASSERT_TRUE(anvil().SetBalance(AddressOf(1), "1500000000000000000").ok());
  ASSERT_TRUE(anvil().SetBalance(AddressOf(2), "1").ok());
  ASSERT_TRUE(anvil().SetBalance(AddressOf(3), "0").ok());
  StartFetcher();
  const std::string head = absl::StrCat(Head());

  CommandOutput table = Query({AccountId(1), AccountId(2), AccountId(3)});
  EXPECT_EQ(table.exit_code, 0) << table.stderr_text;
  EXPECT_EQ(table.stderr_text, "");
  EXPECT_EQ(table.stdout_text, Line("ACCOUNT", "ASSET", "BALANCE", 20, "BLOCK", "ERROR") +
                                   Line(Normal(1), kAnvilEther, "1.5", 20, head) +
                                   Line(Normal(2), kAnvilEther, "0.000000000000000001", 20, head) +
                                   Line(Normal(3), kAnvilEther, "0", 20, head));

  CommandOutput json = Query({"--output=json", AccountId(1), AccountId(2), AccountId(3)});
  EXPECT_EQ(json.exit_code, 0) << json.stderr_text;
  EXPECT_EQ(json.stderr_text, "");
  v1::QueryBalancesResponse response = Parse(json);
  ASSERT_EQ(response.results_size(), 3);
  const char* units[] = {"1500000000000000000", "1", "0"};
  for (int i = 0; i < 3; ++i) {
    const v1::BalanceResult& result = response.results(i);
    EXPECT_EQ(result.query_index(), static_cast<uint32_t>(i));
    EXPECT_EQ(result.balance().account_id(), Normal(i + 1));
    EXPECT_EQ(result.balance().asset_id(), kAnvilEther);
    EXPECT_EQ(result.balance().amount().units(), units[i]);
    EXPECT_EQ(result.balance().amount().decimals(), 18u);
    EXPECT_EQ(absl::StrCat(result.balance().block_number()), head);
  }
  ASSERT_EQ(response.blocks_size(), 1);
  EXPECT_EQ(response.blocks(0).chain_id(), kAnvilChain);
  EXPECT_EQ(absl::StrCat(response.blocks(0).number()), head);
}

TEST_F(CofferctlQueryTest, IdsFromStdinSplitOverRequestsReadAtOneBlock) {
  std::string input = "# five accounts, bare addresses\n";
  for (int n = 1; n <= 5; ++n) {
    ASSERT_TRUE(anvil().SetBalance(AddressOf(n), absl::StrCat(n * 1000)).ok());
    absl::StrAppend(&input, AddressOf(n), n == 2 ? "  # the second\n" : "\n");
  }
  absl::StrAppend(&input, AddressOf(1), "\n");  // a duplicate, read once
  StartFetcher();
  const uint64_t head = Head();

  CommandOutput json =
      Query({"--chain", kAnvilChain, "--asset=slip44:60", "--query_batch=2", "--output=json", "-"},
            input);
  EXPECT_EQ(json.exit_code, 0) << json.stderr_text;
  // Not a terminal: no progress bar, nothing on stderr.
  EXPECT_EQ(json.stderr_text, "");
  v1::QueryBalancesResponse response = Parse(json);
  ASSERT_EQ(response.results_size(), 5) << json.stdout_text;
  for (int i = 0; i < 5; ++i) {
    const v1::BalanceItem& item = response.results(i).balance();
    EXPECT_EQ(response.results(i).query_index(), static_cast<uint32_t>(i));
    EXPECT_EQ(item.account_id(), Normal(i + 1));
    EXPECT_EQ(item.asset_id(), kAnvilEther);
    EXPECT_EQ(item.amount().units(), absl::StrCat((i + 1) * 1000));
    EXPECT_EQ(item.block_number(), head);
  }
  // Three requests, one block.
  ASSERT_EQ(response.blocks_size(), 1);
  EXPECT_EQ(response.blocks(0).number(), head);
}

TEST_F(CofferctlQueryTest, ABlockNumberReadsThatBlock) {
  // Transactions, not anvil_setBalance: anvil keeps the state of mined
  // blocks, but setBalance rewrites the state in place.
  ASSERT_TRUE(anvil().SendEther(anvil().account(0), AddressOf(7), "100").ok());
  const uint64_t before = Head();
  ASSERT_TRUE(anvil().SendEther(anvil().account(0), AddressOf(7), "100").ok());
  StartFetcher();

  CommandOutput pinned = Query({"--output=json", absl::StrCat("--block=", before), AccountId(7)});
  ASSERT_EQ(pinned.exit_code, 0) << pinned.stderr_text;
  v1::QueryBalancesResponse old = Parse(pinned);
  ASSERT_EQ(old.results_size(), 1);
  EXPECT_EQ(old.results(0).balance().amount().units(), "100");
  EXPECT_EQ(old.results(0).balance().block_number(), before);

  CommandOutput latest = Query({"--output=json", "--block=latest", AccountId(7)});
  ASSERT_EQ(latest.exit_code, 0) << latest.stderr_text;
  v1::QueryBalancesResponse now = Parse(latest);
  ASSERT_EQ(now.results_size(), 1);
  EXPECT_EQ(now.results(0).balance().amount().units(), "200");
  EXPECT_GT(now.results(0).balance().block_number(), before);
  EXPECT_EQ(now.results(0).balance().block_number(), Head());
}

// Documented: an item that cannot be read is a row with its error, the
// others still print, and the exit status is 1.
TEST_F(CofferctlQueryTest, BadItemsFailAloneWithExitStatusOne) {
  ASSERT_TRUE(anvil().SetBalance(AddressOf(1), "1500000000000000000").ok());
  StartFetcher();
  const std::string invalid = absl::StrCat(kAnvilChain, ":0xnothex");
  // A chain the fetcher does not know, with --block: still per item (the
  // block selector is not sent for it).
  const std::string elsewhere = "eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045";

  CommandOutput table = Query({"--block=latest", invalid, AccountId(1), elsewhere});
  EXPECT_EQ(table.exit_code, 1) << table.stderr_text;
  EXPECT_EQ(table.stderr_text, "");
  std::vector<std::string> lines = absl::StrSplit(table.stdout_text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << table.stdout_text;
  EXPECT_THAT(lines[1], ::testing::StartsWith(invalid));
  EXPECT_THAT(lines[1], HasSubstr("INVALID_ARGUMENT: "));
  EXPECT_THAT(lines[2], ::testing::StartsWith(Normal(1)));
  EXPECT_THAT(lines[2], HasSubstr(" 1.5 "));
  EXPECT_THAT(lines[3], ::testing::StartsWith(elsewhere));
  EXPECT_THAT(lines[3], HasSubstr("NOT_FOUND: "));

  CommandOutput json = Query({"--output=json", invalid, AccountId(1)});
  EXPECT_EQ(json.exit_code, 1);
  v1::QueryBalancesResponse response = Parse(json);
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).balance().account_id(), invalid);
  EXPECT_EQ(response.results(0).balance().asset_id(), "");
  EXPECT_EQ(response.results(0).balance().error().code(), v1::Error::INVALID_ARGUMENT);
  EXPECT_FALSE(response.results(0).balance().has_amount());
  EXPECT_EQ(response.results(1).balance().amount().units(), "1500000000000000000");
}

TEST_F(CofferctlQueryTest, ARequestTooLargeForTheFetcherIsSplitFurther) {
  // A fetcher that takes at most two items per request.
  const std::string config = absl::StrCat(directory(), "/small-fetcher.textproto");
  std::ofstream(config) << absl::StrCat(
      "max_batch_items: 2\n"
      "chains {\n  chain_id: \"",
      kAnvilChain, "\"\n  kind: CHAIN_KIND_EVM\n  endpoints { name: \"anvil-0\" url: \"",
      anvil().url(), "\" }\n  native_asset { asset_id: \"", kAnvilEther,
      "\" symbol: \"ETH\" name: \"Ether\" decimals: 18 }\n}\n");
  ServiceProcess& fetcher = StartService(Service::kFetcher, {"--config=" + config});
  std::vector<std::string> args = {"--output=json", "--query_batch=5"};
  for (int n = 1; n <= 5; ++n) {
    ASSERT_TRUE(anvil().SetBalance(AddressOf(n), absl::StrCat(n)).ok());
    args.push_back(AccountId(n));
  }
  CommandOutput json = Query(fetcher.address(), args);
  EXPECT_EQ(json.exit_code, 0) << json.stderr_text;
  v1::QueryBalancesResponse response = Parse(json);
  ASSERT_EQ(response.results_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(response.results(i).query_index(), static_cast<uint32_t>(i));
    EXPECT_EQ(response.results(i).balance().amount().units(), absl::StrCat(i + 1));
  }

  // One account with three assets cannot be split: the fetcher's refusal
  // is the command's error.
  CommandOutput refused = Query(
      fetcher.address(),
      {AccountId(1), absl::StrCat("--asset=", kAnvilEther, ",", kAnvilChain,
                                  "/erc20:0x0000000000000000000000000000000000000001,", kAnvilChain,
                                  "/erc20:0x0000000000000000000000000000000000000002")});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.stdout_text, "");
  EXPECT_THAT(refused.stderr_text, HasSubstr("fetcher at " + fetcher.address()));
  EXPECT_THAT(refused.stderr_text, HasSubstr("RESOURCE_EXHAUSTED"));
}

TEST_F(CofferctlQueryTest, UsageErrorsExitTwoAndAFetcherDownExitsOne) {
  CommandOutput bare = Query("127.0.0.1:1", {AddressOf(1)});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_THAT(bare.stderr_text, HasSubstr("--chain"));

  CommandOutput block = Query("127.0.0.1:1", {"--block=soon", AccountId(1)});
  EXPECT_EQ(block.exit_code, 2);
  EXPECT_THAT(block.stderr_text, HasSubstr("--block"));

  CommandOutput none = Query("127.0.0.1:1", {"-"}, "# nothing\n");
  EXPECT_EQ(none.exit_code, 2);

  CommandOutput twice =
      Query("127.0.0.1:1", {"--asset=slip44:60,slip44:60", "--chain", kAnvilChain, AccountId(1)});
  EXPECT_EQ(twice.exit_code, 2);

  CommandOutput down = Query("127.0.0.1:1", {AccountId(1)});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_EQ(down.stdout_text, "");
  EXPECT_THAT(down.stderr_text, HasSubstr("fetcher at 127.0.0.1:1"));
}

TEST(QueryCommandTest, EveryListedFlagExists) {
  for (const cofferctl::Command& command : cofferctl::QueryCommands()) {
    EXPECT_THAT(cofferctl::CommandHelp(command), ::testing::Not(HasSubstr("undefined flag")));
  }
}

}  // namespace
}  // namespace coffer::testing
