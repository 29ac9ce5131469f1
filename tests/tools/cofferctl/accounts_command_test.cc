// cofferctl accounts add|rm|ls against a real coffer-storage: ids from
// arguments, a file and stdin (with --chain completing bare addresses),
// listings as tables and as one parsed ListAccountsResponse across pages,
// inputs larger than one AddAccounts call, per-item errors named, and the
// exit codes of usage errors and of storage being down.
#include <signal.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

#include "coffer/v1/storage.pb.h"
#include "tests/integration/integration_test_base.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"

namespace coffer::testing {
namespace {

// EIP-55's own test address, given in lower case, and its checksummed form.
constexpr char kEvmLower[] = "eip155:1:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
constexpr char kEvmChecksum[] = "eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
// Digits only: the same in every case form.
constexpr char kOnes[] = "0x1111111111111111111111111111111111111111";
constexpr char kTwos[] = "0x2222222222222222222222222222222222222222";
constexpr char kBitcoinChain[] = "bip122:000000000019d6689c085ae165831e93";
constexpr char kBitcoinAddress[] = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";

// The table row (line) of stdout that starts with `first_cell`, or "".
std::string RowOf(const std::string& table, const std::string& first_cell) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    if (absl::StartsWith(line, first_cell + " ")) return std::string(line);
  }
  return "";
}

class CofferctlAccountsTest : public IntegrationTestBase {
 protected:
  void StartStorage() { storage_address_ = StartService(Service::kStorage).address(); }

  CommandOutput Run(const std::vector<std::string>& args,
                    std::optional<std::string> stdin_text = std::nullopt) {
    return RunCofferctl(Prepend({"--storage=" + storage_address_, "--timeout=60s"}, args),
                        std::move(stdin_text));
  }

  // `accounts ls --output=json` with `filters`, parsed, keyed by account id.
  std::map<std::string, v1::Account> List(std::vector<std::string> filters = {}) {
    filters.insert(filters.begin(), {"--output=json", "accounts", "ls"});
    auto response = ParseSuccessfulOutput<v1::ListAccountsResponse>(Run(filters));
    EXPECT_EQ(response.page().next_page_token(), "");
    std::map<std::string, v1::Account> accounts;
    for (const v1::Account& account : response.accounts()) {
      EXPECT_TRUE(accounts.emplace(account.account_id(), account).second)
          << "listed twice: " << account.account_id();
    }
    return accounts;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(directory(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  std::string storage_address_;
};

TEST_F(CofferctlAccountsTest, AddsFromArgumentsFileAndStdinThenListsAndRemoves) {
  StartStorage();

  CommandOutput from_args =
      Run({"accounts", "add", "--label=hot wallet", "--tag=team,eth", kEvmLower});
  ASSERT_EQ(from_args.exit_code, 0) << from_args.stderr_text;
  // Shown in the stored (checksummed) spelling, with its outcome.
  EXPECT_NE(RowOf(from_args.stdout_text, kEvmChecksum).find("added"), std::string::npos)
      << from_args.stdout_text;
  CommandOutput again = Run({"accounts", "add", "--label=hot wallet", "--tag=eth,team", kEvmLower});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_text;
  EXPECT_NE(RowOf(again.stdout_text, kEvmChecksum).find("unchanged"), std::string::npos)
      << again.stdout_text;

  // --chain completes a bare address; an id with a chain keeps its own.
  const std::string file = WriteFile(
      "ids.txt", absl::StrCat("# cold wallets\n", kOnes, "\neip155:10:", kTwos, "  # optimism\n"));
  CommandOutput from_file = Run(
      {"--output=json", "accounts", "add", "--chain=eip155:1", "--label=cold", "--file=" + file});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.stderr_text;
  auto added = ParseJson<v1::AddAccountsResponse>(from_file.stdout_text);
  ASSERT_EQ(added.results_size(), 2);
  EXPECT_EQ(added.results(0).account().account_id(), absl::StrCat("eip155:1:", kOnes));
  EXPECT_EQ(added.results(0).outcome(), v1::AccountResult::CREATED);
  EXPECT_EQ(added.results(1).account().account_id(), absl::StrCat("eip155:10:", kTwos));

  CommandOutput from_stdin =
      Run({"accounts", "add", absl::StrCat("--chain=", kBitcoinChain), "--tag=btc", "-"},
          absl::StrCat(kBitcoinAddress, "\n"));
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.stderr_text;
  const std::string bitcoin_id = absl::StrCat(kBitcoinChain, ":", kBitcoinAddress);
  EXPECT_NE(RowOf(from_stdin.stdout_text, bitcoin_id).find("added"), std::string::npos)
      << from_stdin.stdout_text;

  std::map<std::string, v1::Account> accounts = List();
  ASSERT_EQ(accounts.size(), 4);
  ASSERT_TRUE(accounts.count(kEvmChecksum));
  EXPECT_EQ(accounts[kEvmChecksum].label(), "hot wallet");
  EXPECT_EQ(std::vector<std::string>(accounts[kEvmChecksum].tags().begin(),
                                     accounts[kEvmChecksum].tags().end()),
            (std::vector<std::string>{"eth", "team"}));
  EXPECT_EQ(accounts[absl::StrCat("eip155:1:", kOnes)].label(), "cold");
  EXPECT_EQ(accounts[absl::StrCat("eip155:10:", kTwos)].chain_id(), "eip155:10");
  ASSERT_TRUE(accounts.count(bitcoin_id));
  EXPECT_EQ(accounts[bitcoin_id].tags(0), "btc");

  // Filters that ListAccounts applies.
  EXPECT_EQ(List({"--chain=eip155:1"}).size(), 2);
  std::map<std::string, v1::Account> tagged = List({"--tag=btc"});
  ASSERT_EQ(tagged.size(), 1);
  EXPECT_EQ(tagged.begin()->first, bitcoin_id);

  CommandOutput table = Run({"accounts", "ls"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  std::vector<std::string> header = absl::StrSplit(
      table.stdout_text.substr(0, table.stdout_text.find('\n')), ' ', absl::SkipEmpty());
  EXPECT_EQ(header,
            (std::vector<std::string>{"ACCOUNT", "CHAIN", "LABEL", "TAGS", "ASSETS", "CREATED"}));
  const std::string row = RowOf(table.stdout_text, kEvmChecksum);
  for (const char* cell : {"eip155:1 ", "hot wallet", "eth,team", "all"}) {
    EXPECT_NE(row.find(cell), std::string::npos) << cell << " not in: " << row;
  }
  EXPECT_TRUE(absl::StrContains(row, "Z")) << "no creation time: " << row;

  // rm: what was removed, an unknown id is not an error, ls no longer shows it.
  const std::string unknown = "eip155:1:0x3333333333333333333333333333333333333333";
  CommandOutput removed = Run({"accounts", "rm", absl::StrCat("eip155:1:", kOnes), unknown});
  ASSERT_EQ(removed.exit_code, 0) << removed.stderr_text;
  EXPECT_NE(RowOf(removed.stdout_text, absl::StrCat("eip155:1:", kOnes)).find("removed"),
            std::string::npos)
      << removed.stdout_text;
  EXPECT_NE(RowOf(removed.stdout_text, unknown).find("not registered"), std::string::npos)
      << removed.stdout_text;
  accounts = List();
  EXPECT_EQ(accounts.size(), 3);
  EXPECT_FALSE(accounts.count(absl::StrCat("eip155:1:", kOnes)));
}

TEST_F(CofferctlAccountsTest, AssetsCompletedWithTheAccountsChainAndFiltered) {
  StartStorage();
  ASSERT_EQ(Run({"accounts", "add", "--chain=eip155:1", "--asset=slip44:60", kOnes}).exit_code, 0);
  ASSERT_EQ(
      Run({"accounts", "add", "--asset=eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
           absl::StrCat("eip155:1:", kTwos)})
          .exit_code,
      0);
  const std::string every_asset = "eip155:1:0x3333333333333333333333333333333333333333";
  const std::string other_chain = "eip155:10:0x3333333333333333333333333333333333333333";
  ASSERT_EQ(Run({"accounts", "add", every_asset, other_chain}).exit_code, 0);

  std::map<std::string, v1::Account> ether = List({"--asset=eip155:1/slip44:60"});
  // Listed: the one naming ether and the one reading every asset of eip155:1.
  ASSERT_EQ(ether.size(), 2);
  ASSERT_TRUE(ether.count(absl::StrCat("eip155:1:", kOnes)));
  EXPECT_EQ(ether[absl::StrCat("eip155:1:", kOnes)].asset_ids(0), "eip155:1/slip44:60");
  EXPECT_TRUE(ether.count(every_asset));
  // A token typed in lower case matches its stored EIP-55 spelling.
  std::map<std::string, v1::Account> usdc =
      List({"--chain=eip155:1", "--asset=erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"});
  EXPECT_EQ(usdc.size(), 2);
  EXPECT_TRUE(usdc.count(absl::StrCat("eip155:1:", kTwos)));

  CommandOutput table = Run({"accounts", "ls"});
  EXPECT_NE(RowOf(table.stdout_text, absl::StrCat("eip155:1:", kOnes)).find("slip44:60"),
            std::string::npos)
      << table.stdout_text;
}

TEST_F(CofferctlAccountsTest, LargeInputsGoInSeveralCallsAndListingsSpanPages) {
  StartStorage();
  // Past one AddAccounts call (10,000) and over many ListAccounts pages.
  constexpr int kCount = 10050;
  std::string text;
  std::set<std::string> expected;
  for (int i = 1; i <= kCount; ++i) {
    const std::string address = absl::StrFormat("0x%040d", i);
    absl::StrAppend(&text, address, "\n");
    expected.insert(absl::StrCat("eip155:31337:", address));
  }
  const std::string file = WriteFile("many.txt", text);
  CommandOutput added =
      Run({"accounts", "add", "--chain=eip155:31337", "--tag=bulk", "--file=" + file});
  ASSERT_EQ(added.exit_code, 0) << added.stderr_text;
  EXPECT_TRUE(absl::StrContains(added.stderr_text, "10050 accounts: 10050 added"))
      << added.stderr_text;

  std::map<std::string, v1::Account> accounts = List({"--tag=bulk"});
  ASSERT_EQ(accounts.size(), kCount);
  std::set<std::string> listed;
  for (const auto& [id, account] : accounts) listed.insert(id);
  EXPECT_EQ(listed, expected);

  CommandOutput limited = Run({"--output=json", "accounts", "ls", "--limit=25"});
  ASSERT_EQ(limited.exit_code, 0) << limited.stderr_text;
  EXPECT_EQ(ParseJson<v1::ListAccountsResponse>(limited.stdout_text).accounts_size(), 25);
  EXPECT_TRUE(absl::StrContains(limited.stderr_text, "--limit")) << limited.stderr_text;

  // rm over more than one call, bare addresses from stdin completed by --chain.
  CommandOutput removed =
      Run({"--output=json", "accounts", "rm", "--chain=eip155:31337", "-"}, text);
  ASSERT_EQ(removed.exit_code, 0) << removed.stderr_text;
  auto response = ParseJson<v1::RemoveAccountsResponse>(removed.stdout_text);
  ASSERT_EQ(response.results_size(), kCount);
  EXPECT_TRUE(response.results(kCount - 1).removed());
  EXPECT_TRUE(List().empty());
}

TEST_F(CofferctlAccountsTest, InvalidIdsAreNamedAndTheOthersStillWritten) {
  StartStorage();
  const std::string valid = "eip155:1:0x4444444444444444444444444444444444444444";
  CommandOutput table = Run({"accounts", "add", "eip155:1:0x12", valid});
  EXPECT_EQ(table.exit_code, 1) << table.stdout_text << table.stderr_text;
  // One line on stderr names the bad id; the table shows both results.
  const std::string error_line =
      RowOf(table.stderr_text, "cofferctl accounts add: 1 of 2 accounts not added:");
  EXPECT_TRUE(absl::StrContains(error_line, "eip155:1:0x12")) << table.stderr_text;
  EXPECT_FALSE(absl::StrContains(error_line, valid)) << table.stderr_text;
  EXPECT_TRUE(absl::StrContains(RowOf(table.stdout_text, "eip155:1:0x12"), "error: "))
      << table.stdout_text;
  EXPECT_NE(RowOf(table.stdout_text, valid).find("added"), std::string::npos) << table.stdout_text;
  EXPECT_TRUE(List().count(valid));

  CommandOutput json = Run({"--output=json", "accounts", "add", "eip155:1:0x12"});
  EXPECT_EQ(json.exit_code, 1);
  auto response = ParseJson<v1::AddAccountsResponse>(json.stdout_text);
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).outcome(), v1::AccountResult::FAILED);
  EXPECT_EQ(response.results(0).error().code(), v1::Error::INVALID_ARGUMENT);

  CommandOutput rm = Run({"accounts", "rm", "eip155:1:0x12"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(rm.stderr_text, "eip155:1:0x12")) << rm.stderr_text;
}

TEST_F(CofferctlAccountsTest, UsageErrorsExitTwo) {
  StartStorage();
  struct Case {
    std::vector<std::string> args;
    std::string named;
  };
  const std::string id = absl::StrCat("eip155:1:", kOnes);
  for (const Case& c : std::vector<Case>{
           {{"accounts", "rm", "--label=x", id}, "--label"},
           {{"accounts", "ls", "--delete_history"}, "--delete_history"},
           {{"accounts", "add", "--limit=3", id}, "--limit"},
           {{"accounts", "add", kOnes}, kOnes},  // no chain anywhere
           {{"accounts", "rm", kOnes}, kOnes},
           {{"accounts", "add", "--chain=ethereum", kOnes}, "--chain"},
           {{"accounts", "add"}, "no ids"},
           {{"accounts", "ls", "extra"}, "arguments"},
           {{"accounts", "ls", "--limit=-1"}, "--limit"},
           {{"accounts", "ls", "--asset=slip44:60"}, "slip44:60"},
       }) {
    CommandOutput result = Run(c.args);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(c.args, " ") << "\n" << result.stderr_text;
    EXPECT_TRUE(absl::StrContains(result.stderr_text, c.named))
        << absl::StrJoin(c.args, " ") << "\n"
        << result.stderr_text;
    EXPECT_EQ(result.stdout_text, "") << absl::StrJoin(c.args, " ");
  }
  EXPECT_TRUE(List().empty());
}

TEST_F(CofferctlAccountsTest, StorageDownIsOneLineNamingItsAddress) {
  ServiceProcess& storage = StartService(Service::kStorage);
  storage_address_ = storage.address();
  StopAndExpectCleanExit(storage, SIGTERM);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"accounts", "ls"},
           {"accounts", "add", absl::StrCat("eip155:1:", kOnes)},
           {"accounts", "rm", absl::StrCat("eip155:1:", kOnes)},
       }) {
    CommandOutput result = Run(args);
    EXPECT_EQ(result.exit_code, 1) << absl::StrJoin(args, " ");
    EXPECT_TRUE(absl::StrContains(result.stderr_text, "storage at " + storage_address_))
        << result.stderr_text;
    EXPECT_EQ(result.stdout_text, "") << absl::StrJoin(args, " ");
  }
}

}  // namespace
}  // namespace coffer::testing
