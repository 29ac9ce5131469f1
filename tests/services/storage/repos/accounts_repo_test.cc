#include "services/storage/repos/accounts_repo.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/db/migrations.h"
#include "services/storage/schema/schema.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

using v1::AccountResult;

// EIP-55's own test vector, checksummed and all lower case.
constexpr char kChecksummed[] = "eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
constexpr char kLowerCase[] = "eip155:1:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
// The same with one letter's case flipped: a bad checksum.
constexpr char kBadChecksum[] = "eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
constexpr char kBitcoin[] =
    "bip122:000000000019d6689c085ae165831e93:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";

class AccountsRepoTest : public RepoTestBase {
 protected:
  absl::Status Add(const v1::AddAccountsRequest& request, v1::AddAccountsResponse* response,
                   absl::Time now = absl::FromUnixSeconds(1700000000)) {
    return Write([&](db::WriteContext& tx) { return AddAccounts(tx, request, response, now); });
  }

  absl::Status List(const v1::ListAccountsRequest& request, v1::ListAccountsResponse* response) {
    return Read([&](db::ReadContext& tx) { return ListAccounts(tx, request, response); });
  }

  std::vector<std::string> ListIds(const v1::ListAccountsRequest& request) {
    v1::ListAccountsResponse response;
    absl::Status status = List(request, &response);
    EXPECT_TRUE(status.ok()) << status;
    std::vector<std::string> ids;
    for (const v1::Account& account : response.accounts()) ids.push_back(account.account_id());
    return ids;
  }

  // Pages through `request` in `view`: every page, in order.
  std::vector<v1::ListAccountsResponse> AllPages(v1::ListAccountsRequest request,
                                                 v1::AccountView view) {
    request.set_view(view);
    std::vector<v1::ListAccountsResponse> pages;
    while (true) {
      v1::ListAccountsResponse& page = pages.emplace_back();
      absl::Status status = List(request, &page);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok() || page.page().next_page_token().empty()) break;
      request.mutable_page()->set_page_token(page.page().next_page_token());
    }
    return pages;
  }

  absl::Status Remove(const v1::RemoveAccountsRequest& request,
                      v1::RemoveAccountsResponse* response) {
    return Write([&](db::WriteContext& tx) { return RemoveAccounts(tx, request, response); });
  }
};

// Pages read their accounts' tags and assets in one statement each: every
// account gets exactly its own, whatever the page boundaries and filters.
TEST_F(AccountsRepoTest, ListedAccountsCarryTheirOwnTagsAndAssetsOnEveryPage) {
  const auto tags_of = [](int i) {
    std::vector<std::string> tags;
    if (i % 2 == 0) tags.push_back("even");
    if (i % 3 == 0) tags.push_back("three");
    return tags;  // sorted: "even" < "three"
  };
  const auto assets_of = [](int i, int chain) {
    std::vector<std::string> assets;
    if (i % 4 != 1) assets.push_back(absl::StrFormat("eip155:%d/slip44:60", chain));
    if (i % 5 == 0) {
      assets.push_back(absl::StrFormat("eip155:%d/erc20:0x%040d", chain, i));
    }
    std::sort(assets.begin(), assets.end());
    return assets;
  };
  v1::AddAccountsRequest request;
  for (int chain : {1, 10}) {
    for (int i = 0; i < 23; ++i) {
      v1::Account* account = request.add_accounts();
      account->set_account_id(EvmId(i, chain));
      for (const std::string& tag : tags_of(i)) account->add_tags(tag);
      for (const std::string& asset : assets_of(i, chain)) account->add_asset_ids(asset);
    }
  }
  v1::AddAccountsResponse added;
  ASSERT_TRUE(Add(request, &added).ok());

  for (const auto& [chain_filter, tag_filter] :
       {std::pair{"", ""}, std::pair{"eip155:10", ""}, std::pair{"", "three"},
        std::pair{"eip155:1", "even"}}) {
    SCOPED_TRACE(absl::StrCat("chain ", chain_filter, " tag ", tag_filter));
    v1::ListAccountsRequest list;
    list.set_chain_id(chain_filter);
    if (*tag_filter != '\0') list.add_tags(tag_filter);
    list.mutable_page()->set_page_size(4);
    int listed = 0;
    while (true) {
      v1::ListAccountsResponse page;
      ASSERT_TRUE(List(list, &page).ok());
      for (const v1::Account& account : page.accounts()) {
        ++listed;
        int chain = 0, i = -1;
        for (int c : {1, 10}) {
          for (int k = 0; k < 23; ++k) {
            if (account.account_id() == EvmId(k, c)) chain = c, i = k;
          }
        }
        ASSERT_GE(i, 0) << account.account_id();
        EXPECT_EQ(std::vector<std::string>(account.tags().begin(), account.tags().end()),
                  tags_of(i))
            << account.account_id();
        EXPECT_EQ(std::vector<std::string>(account.asset_ids().begin(), account.asset_ids().end()),
                  assets_of(i, chain))
            << account.account_id();
      }
      if (page.page().next_page_token().empty()) break;
      list.mutable_page()->set_page_token(page.page().next_page_token());
    }
    const int per_chain = std::string(tag_filter) == "three"  ? 8
                          : std::string(tag_filter) == "even" ? 12
                                                              : 23;
    EXPECT_EQ(listed, per_chain * (*chain_filter != '\0' ? 1 : 2));
  }
}

// A page of more accounts than one statement reads the tags and assets of.
TEST_F(AccountsRepoTest, ALongPageCarriesEveryAccountsTagsAndAssets) {
  constexpr int kAccounts = 600;
  v1::AddAccountsRequest request;
  for (int i = 0; i < kAccounts; ++i) {
    v1::Account* account = request.add_accounts();
    account->set_account_id(EvmId(i, 137));
    account->add_tags(absl::StrCat("t", i % 7));
    if (i % 3 == 0) account->add_asset_ids("eip155:137/slip44:966");
  }
  v1::AddAccountsResponse added;
  ASSERT_TRUE(Add(request, &added).ok());
  v1::ListAccountsRequest list;
  list.mutable_page()->set_page_size(1000);
  v1::ListAccountsResponse page;
  ASSERT_TRUE(List(list, &page).ok());
  ASSERT_EQ(page.accounts_size(), kAccounts);
  for (int i = 0; i < kAccounts; ++i) {
    const v1::Account& account = page.accounts(i);
    ASSERT_EQ(account.account_id(), EvmId(i, 137));  // zero-padded: id order is i's
    ASSERT_EQ(account.tags_size(), 1) << account.account_id();
    EXPECT_EQ(account.tags(0), absl::StrCat("t", i % 7));
    EXPECT_EQ(account.asset_ids_size(), i % 3 == 0 ? 1 : 0) << account.account_id();
  }
}

TEST_F(AccountsRepoTest, AddsListsAndRemoves) {
  v1::AddAccountsRequest request;
  v1::Account* evm = request.add_accounts();
  evm->set_account_id(kChecksummed);
  evm->set_label("cold wallet");
  evm->add_tags("cold");
  evm->add_tags("family");
  evm->add_tags("cold");
  evm->add_asset_ids("eip155:1/slip44:60");
  request.add_accounts()->set_account_id(kBitcoin);
  v1::AddAccountsResponse response;
  ASSERT_TRUE(Add(request, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).outcome(), AccountResult::CREATED);
  EXPECT_EQ(response.results(1).outcome(), AccountResult::CREATED);
  const v1::Account& stored = response.results(0).account();
  EXPECT_EQ(stored.chain_id(), "eip155:1");
  EXPECT_EQ(stored.address(), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  EXPECT_EQ(stored.chain_kind(), v1::CHAIN_KIND_EVM);
  EXPECT_EQ(std::vector<std::string>(stored.tags().begin(), stored.tags().end()),
            (std::vector<std::string>{"cold", "family"}));
  EXPECT_EQ(stored.created_at().seconds(), 1700000000);

  v1::ListAccountsResponse listed;
  ASSERT_TRUE(List({}, &listed).ok());
  ASSERT_EQ(listed.accounts_size(), 2);
  // Ordered by account_id: "bip122:..." before "eip155:...".
  EXPECT_EQ(listed.accounts(0).account_id(), kBitcoin);
  EXPECT_EQ(listed.accounts(0).chain_kind(), v1::CHAIN_KIND_BITCOIN);
  EXPECT_EQ(listed.accounts(1).label(), "cold wallet");
  EXPECT_EQ(listed.accounts(1).tags_size(), 2);
  ASSERT_EQ(listed.accounts(1).asset_ids_size(), 1);
  EXPECT_EQ(listed.accounts(1).asset_ids(0), "eip155:1/slip44:60");
  EXPECT_TRUE(listed.page().next_page_token().empty());

  v1::RemoveAccountsRequest remove;
  remove.add_account_ids(kLowerCase);  // removed by its normal form
  remove.add_account_ids(EvmId(5));    // never registered
  remove.add_account_ids("eip155:1:0x12");
  v1::RemoveAccountsResponse removed;
  ASSERT_TRUE(Remove(remove, &removed).ok());
  ASSERT_EQ(removed.results_size(), 3);
  EXPECT_TRUE(removed.results(0).removed());
  EXPECT_EQ(removed.results(0).account_id(), kLowerCase);
  EXPECT_FALSE(removed.results(1).removed());
  EXPECT_FALSE(removed.results(1).has_error());
  EXPECT_FALSE(removed.results(2).removed());
  EXPECT_EQ(removed.results(2).error().code(), v1::Error::INVALID_ARGUMENT);
  EXPECT_NE(removed.results(2).error().message().find("account_ids[2]"), std::string::npos);
  EXPECT_EQ(ListIds({}), std::vector<std::string>{kBitcoin});
  // Retrying a removal succeeds and removes nothing.
  ASSERT_TRUE(Remove(remove, &removed).ok());
  EXPECT_FALSE(removed.results(0).removed());
}

TEST_F(AccountsRepoTest, IsIdempotent) {
  v1::AddAccountsRequest request;
  v1::Account* account = request.add_accounts();
  account->set_account_id(kChecksummed);
  account->set_label("a");
  account->add_tags("x");
  v1::AddAccountsResponse response;
  ASSERT_TRUE(Add(request, &response, absl::FromUnixSeconds(100)).ok());
  EXPECT_EQ(response.results(0).outcome(), AccountResult::CREATED);

  // The same again: nothing changes, not even updated_at.
  ASSERT_TRUE(Add(request, &response, absl::FromUnixSeconds(200)).ok());
  EXPECT_EQ(response.results(0).outcome(), AccountResult::UNCHANGED);
  EXPECT_EQ(response.results(0).account().updated_at().seconds(), 100);

  // A new label and tags: updated, created_at kept.
  account->set_label("b");
  account->add_tags("y");
  ASSERT_TRUE(Add(request, &response, absl::FromUnixSeconds(300)).ok());
  EXPECT_EQ(response.results(0).outcome(), AccountResult::UPDATED);
  EXPECT_EQ(response.results(0).account().created_at().seconds(), 100);
  EXPECT_EQ(response.results(0).account().updated_at().seconds(), 300);
  v1::ListAccountsResponse listed;
  ASSERT_TRUE(List({}, &listed).ok());
  ASSERT_EQ(listed.accounts_size(), 1);
  EXPECT_EQ(listed.accounts(0).label(), "b");
  EXPECT_EQ(listed.accounts(0).tags_size(), 2);
}

TEST_F(AccountsRepoTest, AnIdGivenTwiceCountsOnceWithTheLastFields) {
  v1::AddAccountsRequest request;
  v1::Account* first = request.add_accounts();
  first->set_account_id(kLowerCase);
  first->set_label("first");
  v1::Account* second = request.add_accounts();
  second->set_account_id(kChecksummed);
  second->set_label("second");
  v1::AddAccountsResponse response;
  ASSERT_TRUE(Add(request, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).account_id(), kLowerCase);
  EXPECT_EQ(response.results(0).outcome(), AccountResult::CREATED);
  EXPECT_EQ(response.results(0).account().label(), "second");
  EXPECT_EQ(response.results(1).account_id(), kChecksummed);
  EXPECT_EQ(ListIds({}), std::vector<std::string>{kChecksummed});
}

TEST_F(AccountsRepoTest, StoresEvmAddressesInChecksumForm) {
  AddIds({kLowerCase});
  v1::ListAccountsResponse listed;
  ASSERT_TRUE(List({}, &listed).ok());
  ASSERT_EQ(listed.accounts_size(), 1);
  EXPECT_EQ(listed.accounts(0).account_id(), kChecksummed);
  EXPECT_EQ(listed.accounts(0).address(), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
}

TEST_F(AccountsRepoTest, ReportsInvalidItemsAndWritesTheRest) {
  v1::AddAccountsRequest request;
  request.add_accounts()->set_account_id(EvmId(1));
  request.add_accounts()->set_account_id(kBadChecksum);
  v1::Account* bad_tag = request.add_accounts();
  bad_tag->set_account_id(EvmId(2));
  bad_tag->add_tags("Not-Lower");
  v1::Account* other_chain_asset = request.add_accounts();
  other_chain_asset->set_account_id(EvmId(3));
  other_chain_asset->add_asset_ids("eip155:10/slip44:60");
  v1::AddAccountsResponse response;
  ASSERT_TRUE(Add(request, &response).ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).outcome(), AccountResult::CREATED);
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(response.results(i).outcome(), AccountResult::FAILED) << i;
    EXPECT_FALSE(response.results(i).has_account()) << i;
    EXPECT_EQ(response.results(i).error().code(), v1::Error::INVALID_ARGUMENT) << i;
  }
  EXPECT_NE(response.results(1).error().message().find("accounts[1].account_id"), std::string::npos)
      << response.results(1).error().message();
  EXPECT_NE(response.results(2).error().message().find("accounts[2].tags[0]"), std::string::npos)
      << response.results(2).error().message();
  EXPECT_NE(response.results(3).error().message().find("accounts[3].asset_ids[0]"),
            std::string::npos)
      << response.results(3).error().message();
  EXPECT_EQ(ListIds({}), std::vector<std::string>{EvmId(1)});
}

TEST_F(AccountsRepoTest, AllOrNothingWritesNothingAndNamesTheInvalidItems) {
  v1::AddAccountsRequest request;
  request.set_all_or_nothing(true);
  request.add_accounts()->set_account_id(EvmId(1));
  request.add_accounts()->set_account_id(kBadChecksum);
  request.add_accounts()->set_account_id(EvmId(2));
  request.add_accounts()->set_account_id("eip155:1:0x12");
  v1::AddAccountsResponse response;
  absl::Status status = Add(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("accounts[1].account_id"), std::string::npos) << status;
  EXPECT_NE(status.message().find(kBadChecksum), std::string::npos) << status;
  EXPECT_NE(status.message().find("accounts[3].account_id"), std::string::npos) << status;
  EXPECT_EQ(status.message().find("accounts[0]"), std::string::npos) << status;
  EXPECT_TRUE(ListIds({}).empty());

  // Without the invalid items the same call writes everything.
  request.mutable_accounts()->DeleteSubrange(3, 1);
  request.mutable_accounts()->DeleteSubrange(1, 1);
  ASSERT_TRUE(Add(request, &response).ok());
  EXPECT_EQ(ListIds({}).size(), 2u);
}

TEST_F(AccountsRepoTest, AllOrNothingNamesAtMostTwentyItems) {
  v1::AddAccountsRequest request;
  request.set_all_or_nothing(true);
  for (int i = 0; i < 25; ++i) request.add_accounts()->set_account_id("bad");
  v1::AddAccountsResponse response;
  absl::Status status = Add(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("accounts[19]"), std::string::npos) << status;
  EXPECT_EQ(status.message().find("accounts[20]"), std::string::npos) << status;
  EXPECT_NE(status.message().find("and 5 more"), std::string::npos) << status;
}

TEST_F(AccountsRepoTest, RefusesEmptyAndOversizedBatches) {
  v1::AddAccountsResponse response;
  EXPECT_EQ(Add({}, &response).code(), absl::StatusCode::kInvalidArgument);
  v1::AddAccountsRequest request;
  for (size_t i = 0; i <= kMaxAccountsPerBatch; ++i) {
    request.add_accounts()->set_account_id(EvmId(static_cast<int>(i)));
  }
  absl::Status status = Add(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("10000"), std::string::npos) << status;
  EXPECT_TRUE(ListIds({}).empty());

  v1::RemoveAccountsRequest remove;
  for (size_t i = 0; i <= kMaxAccountsPerBatch; ++i) remove.add_account_ids(EvmId(1));
  v1::RemoveAccountsResponse removed;
  EXPECT_EQ(Remove(remove, &removed).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(AccountsRepoTest, PagesThroughThreePages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(EvmId(i));
  AddIds(ids);
  v1::ListAccountsRequest request;
  request.mutable_page()->set_page_size(3);
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    v1::ListAccountsResponse response;
    ASSERT_TRUE(List(request, &response).ok());
    ++pages;
    ASSERT_LE(pages, 3);
    for (const v1::Account& account : response.accounts()) seen.push_back(account.account_id());
    if (response.page().next_page_token().empty()) {
      EXPECT_EQ(response.accounts_size(), 1);
      break;
    }
    EXPECT_EQ(response.accounts_size(), 3);
    request.mutable_page()->set_page_token(response.page().next_page_token());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, ids);
}

TEST_F(AccountsRepoTest, PageSizeDefaultsTo100AndIsCappedAt10000) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10001; ++i) ids.push_back(EvmId(i));
  for (size_t first = 0; first < ids.size(); first += 1000) {  // AddAccounts' limit
    AddIds({ids.begin() + first, ids.begin() + std::min(first + 1000, ids.size())});
  }
  v1::ListAccountsRequest request;
  EXPECT_EQ(ListIds(request).size(), 100u);
  request.mutable_page()->set_page_size(20000);
  v1::ListAccountsResponse response;
  ASSERT_TRUE(List(request, &response).ok());
  EXPECT_EQ(response.accounts_size(), 10000);
  EXPECT_FALSE(response.page().next_page_token().empty());
}

TEST_F(AccountsRepoTest, RefusesOverlongLabelsAndTooManyTags) {
  v1::AddAccountsRequest request;
  request.add_accounts()->set_account_id(EvmId(1));
  request.mutable_accounts(0)->set_label(std::string(101, 'x'));
  request.add_accounts()->set_account_id(EvmId(2));
  for (int i = 0; i < 17; ++i) request.mutable_accounts(1)->add_tags(absl::StrCat("t", i));
  v1::AddAccountsResponse response;
  ASSERT_TRUE(Add(request, &response).ok());
  EXPECT_NE(response.results(0).error().message().find("accounts[0].label"), std::string::npos)
      << response.results(0).error().message();
  EXPECT_NE(response.results(1).error().message().find("accounts[1].tags"), std::string::npos)
      << response.results(1).error().message();
  EXPECT_TRUE(ListIds({}).empty());
}

TEST_F(AccountsRepoTest, RefusesBadPageRequests) {
  AddIds({EvmId(1), EvmId(2)});
  v1::ListAccountsRequest request;
  request.mutable_page()->set_page_size(-1);
  v1::ListAccountsResponse response;
  EXPECT_EQ(List(request, &response).code(), absl::StatusCode::kInvalidArgument);

  request.mutable_page()->set_page_size(1);
  ASSERT_TRUE(List(request, &response).ok());
  const std::string token = response.page().next_page_token();
  ASSERT_FALSE(token.empty());
  // A token is only good with the filters it was made with.
  request.mutable_page()->set_page_token(token);
  request.set_chain_id("eip155:1");
  EXPECT_EQ(List(request, &response).code(), absl::StatusCode::kInvalidArgument);
  request.clear_chain_id();
  request.mutable_page()->set_page_token("not a token");
  EXPECT_EQ(List(request, &response).code(), absl::StatusCode::kInvalidArgument);
  request.mutable_page()->set_page_token(token);
  ASSERT_TRUE(List(request, &response).ok());
  ASSERT_EQ(response.accounts_size(), 1);
  EXPECT_EQ(response.accounts(0).account_id(), EvmId(2));
}

TEST_F(AccountsRepoTest, FiltersByChainAndTags) {
  AddIds({EvmId(1), EvmId(2, 10)}, {"hot"});
  AddIds({EvmId(3), EvmId(4, 10)}, {"hot", "team"});
  AddIds({EvmId(5)}, {"team"});
  AddIds({kBitcoin});

  v1::ListAccountsRequest request;
  request.set_chain_id("eip155:10");
  EXPECT_EQ(ListIds(request), (std::vector<std::string>{EvmId(2, 10), EvmId(4, 10)}));

  request.clear_chain_id();
  request.add_tags("team");
  // Byte order: "eip155:10:" sorts before "eip155:1:".
  EXPECT_EQ(ListIds(request), (std::vector<std::string>{EvmId(4, 10), EvmId(3), EvmId(5)}));

  request.add_tags("hot");
  EXPECT_EQ(ListIds(request), (std::vector<std::string>{EvmId(4, 10), EvmId(3)}));

  request.set_chain_id("eip155:1");
  EXPECT_EQ(ListIds(request), (std::vector<std::string>{EvmId(3)}));

  request.clear_tags();
  request.set_chain_id("bip122:000000000019d6689c085ae165831e93");
  EXPECT_EQ(ListIds(request), (std::vector<std::string>{kBitcoin}));

  request.set_chain_id("not a chain");
  v1::ListAccountsResponse response;
  absl::Status status = List(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("chain_id"), std::string::npos) << status;
}

// Accounts on two chains with labels, tags and (most of them) assets, so a
// view that answered a field it should not would show it.
void AddAccountsWithEveryField(v1::AddAccountsRequest& request) {
  for (int chain : {1, 10}) {
    for (int i = 0; i < 15; ++i) {
      v1::Account* account = request.add_accounts();
      account->set_account_id(EvmId(i, chain));
      account->set_label(absl::StrCat("wallet ", i));
      if (i % 2 == 0) account->add_tags("even");
      if (i % 3 == 0) account->add_tags("three");
      if (i % 4 != 1) account->add_asset_ids(absl::StrFormat("eip155:%d/slip44:60", chain));
      if (i % 5 == 0) {
        account->add_asset_ids(absl::StrFormat("eip155:%d/erc20:0x%040d", chain, i));
      }
    }
  }
}

TEST_F(AccountsRepoTest, IdsViewAnswersOnlyIdsAndAssetsOfTheSameAccountsAndPages) {
  v1::AddAccountsRequest add;
  AddAccountsWithEveryField(add);
  v1::AddAccountsResponse added;
  ASSERT_TRUE(Add(add, &added).ok());

  struct Filter {
    const char* chain_id;
    std::vector<std::string> tags;
  };
  // Pages of 1 and 4 end on accounts with two assets; 100 takes all.
  std::vector<std::pair<Filter, int>> cases;
  for (const Filter& filter : {Filter{"", {}}, Filter{"eip155:10", {}}, Filter{"", {"three"}},
                               Filter{"eip155:1", {"even"}}, Filter{"", {"even", "three"}}}) {
    for (const int page_size : {1, 4, 100}) cases.push_back({filter, page_size});
  }
  for (const auto& [filter, page_size] : cases) {
    SCOPED_TRACE(absl::StrCat("chain ", filter.chain_id, " tags ", filter.tags.size(),
                              " page size ", page_size));
    v1::ListAccountsRequest request;
    request.set_chain_id(filter.chain_id);
    for (const std::string& tag : filter.tags) request.add_tags(tag);
    request.mutable_page()->set_page_size(page_size);

    const std::vector<v1::ListAccountsResponse> full = AllPages(request, v1::ACCOUNT_VIEW_FULL);
    const std::vector<v1::ListAccountsResponse> ids = AllPages(request, v1::ACCOUNT_VIEW_IDS);
    // The default view is the full one.
    const std::vector<v1::ListAccountsResponse> unspecified =
        AllPages(request, v1::ACCOUNT_VIEW_UNSPECIFIED);
    ASSERT_EQ(unspecified.size(), full.size());
    for (size_t p = 0; p < full.size(); ++p) {
      EXPECT_EQ(unspecified[p].SerializeAsString(), full[p].SerializeAsString());
    }

    // More than one page but for 100: the tokens are compared.
    ASSERT_EQ(full.size() > 1, page_size < 100);
    ASSERT_EQ(ids.size(), full.size());
    int assets_seen = 0;
    for (size_t p = 0; p < full.size(); ++p) {
      EXPECT_EQ(ids[p].page().next_page_token(), full[p].page().next_page_token()) << p;
      ASSERT_EQ(ids[p].accounts_size(), full[p].accounts_size()) << p;
      for (int i = 0; i < full[p].accounts_size(); ++i) {
        const v1::Account& whole = full[p].accounts(i);
        ASSERT_FALSE(whole.label().empty());
        ASSERT_FALSE(whole.chain_id().empty());
        ASSERT_TRUE(whole.has_created_at());
        v1::Account expected;
        expected.set_account_id(whole.account_id());
        *expected.mutable_asset_ids() = whole.asset_ids();
        assets_seen += whole.asset_ids_size();
        EXPECT_EQ(ids[p].accounts(i).SerializeAsString(), expected.SerializeAsString())
            << ids[p].accounts(i).DebugString() << " vs " << expected.DebugString();
      }
    }
    EXPECT_GT(assets_seen, 0);
  }
}

TEST_F(AccountsRepoTest, APageTokenContinuesTheListingInTheOtherView) {
  v1::AddAccountsRequest add;
  AddAccountsWithEveryField(add);
  v1::AddAccountsResponse added;
  ASSERT_TRUE(Add(add, &added).ok());
  v1::ListAccountsRequest request;
  request.set_chain_id("eip155:1");
  request.mutable_page()->set_page_size(6);

  // FULL, IDS, FULL: the pages follow one another as in one view.
  std::vector<std::string> seen;
  v1::AccountView view = v1::ACCOUNT_VIEW_FULL;
  int pages = 0;
  while (true) {
    request.set_view(view);
    v1::ListAccountsResponse page;
    ASSERT_TRUE(List(request, &page).ok());
    ++pages;
    for (const v1::Account& account : page.accounts()) {
      seen.push_back(account.account_id());
      EXPECT_EQ(account.label().empty(), view == v1::ACCOUNT_VIEW_IDS) << account.account_id();
    }
    if (page.page().next_page_token().empty()) break;
    request.mutable_page()->set_page_token(page.page().next_page_token());
    view = view == v1::ACCOUNT_VIEW_FULL ? v1::ACCOUNT_VIEW_IDS : v1::ACCOUNT_VIEW_FULL;
  }
  EXPECT_EQ(pages, 3);
  std::vector<std::string> expected;
  for (int i = 0; i < 15; ++i) expected.push_back(EvmId(i));
  EXPECT_EQ(seen, expected);

  // Still bound to the filters, whatever the view.
  request.clear_page();
  request.set_view(v1::ACCOUNT_VIEW_IDS);
  request.mutable_page()->set_page_size(6);
  v1::ListAccountsResponse first;
  ASSERT_TRUE(List(request, &first).ok());
  request.mutable_page()->set_page_token(first.page().next_page_token());
  request.set_view(v1::ACCOUNT_VIEW_FULL);
  request.set_chain_id("eip155:10");
  v1::ListAccountsResponse refused;
  EXPECT_EQ(List(request, &refused).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AccountsRepoTest, RefusesAnUnknownView) {
  AddIds({EvmId(1)});
  v1::ListAccountsRequest request;
  request.set_view(static_cast<v1::AccountView>(3));
  v1::ListAccountsResponse response;
  absl::Status status = List(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("view"), std::string::npos) << status;
}

TEST_F(AccountsRepoTest, RemoveWithDeleteHistoryDeletesItemsAndLatestBalances) {
  AddIds({EvmId(1), EvmId(2)});
  ASSERT_TRUE(Write([](db::WriteContext& tx) {
                return tx.Execute(absl::StrCat(
                    "INSERT INTO snapshots (snapshot_id, idempotency_key, content_hash, taken_at,"
                    " written_at) VALUES (1, 'k', x'00', 10, 11), (2, 'l', x'01', 20, 21);"
                    "INSERT INTO snapshot_items (item_id, snapshot_id, account_id, asset_id,"
                    " taken_at, units, decimals) VALUES (1, 1, '",
                    EvmId(1), "', 'eip155:1/slip44:60', 10, '5', 18), (2, 1, '", EvmId(2),
                    "', 'eip155:1/slip44:60', 10, '6', 18), (3, 2, '", EvmId(1),
                    "', 'eip155:1/slip44:60', 20, '7', 18), (4, 2, '", EvmId(2),
                    "', 'eip155:1/slip44:60', 20, '8', 18);"
                    // Snapshot 1 merged into the account-history index, 2 still
                    // pending (account_history.h): both must go.
                    "INSERT INTO account_history SELECT account_id, taken_at, snapshot_id,"
                    " asset_id, item_id FROM snapshot_items WHERE snapshot_id = 1;"
                    "INSERT INTO account_history_pending (snapshot_id, items) VALUES (2, 2);"
                    "INSERT INTO latest_balances (account_id, asset_id, last_item_id,"
                    " last_attempt_at, value_item_id, value_snapshot_id, units, decimals, as_of)"
                    " SELECT account_id, asset_id, item_id, 20, item_id, 2, units, decimals, 20"
                    " FROM snapshot_items WHERE snapshot_id = 2"));
              }).ok());
  v1::RemoveAccountsRequest remove;
  remove.add_account_ids(EvmId(1));
  remove.set_delete_history(true);
  remove.add_account_ids(EvmId(2));
  v1::RemoveAccountsResponse removed;
  // delete_history applies to every id of the call.
  ASSERT_TRUE(Remove(remove, &removed).ok());
  EXPECT_TRUE(removed.results(0).removed());
  EXPECT_TRUE(removed.results(1).removed());
  int64_t items = -1;
  ASSERT_TRUE(Read([&items](db::ReadContext& tx) -> absl::Status {
                absl::StatusOr<db::CachedStatement> count = tx.Prepare(
                    "SELECT (SELECT count(*) FROM snapshot_items) +"
                    " (SELECT count(*) FROM latest_balances) +"
                    " (SELECT count(*) FROM account_history)");
                if (!count.ok()) return count.status();
                absl::StatusOr<bool> row = (*count)->Step();
                if (!row.ok()) return row.status();
                items = (*count)->ColumnInt64(0);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(items, 0);
}

TEST_F(AccountsRepoTest, RemoveKeepsHistoryByDefault) {
  AddIds({EvmId(1)});
  ASSERT_TRUE(Write([](db::WriteContext& tx) {
                return tx.Execute(absl::StrCat(
                    "INSERT INTO snapshots (snapshot_id, idempotency_key, content_hash, taken_at,"
                    " written_at) VALUES (1, 'k', x'00', 10, 11);"
                    "INSERT INTO snapshot_items (snapshot_id, account_id, asset_id, taken_at,"
                    " units, decimals) VALUES (1, '",
                    EvmId(1), "', 'eip155:1/slip44:60', 10, '5', 18)"));
              }).ok());
  v1::RemoveAccountsRequest remove;
  remove.add_account_ids(EvmId(1));
  v1::RemoveAccountsResponse removed;
  ASSERT_TRUE(Remove(remove, &removed).ok());
  EXPECT_TRUE(removed.results(0).removed());
  int64_t items = -1;
  ASSERT_TRUE(Read([&items](db::ReadContext& tx) -> absl::Status {
                absl::StatusOr<db::CachedStatement> count =
                    tx.Prepare("SELECT count(*) FROM snapshot_items");
                if (!count.ok()) return count.status();
                absl::StatusOr<bool> row = (*count)->Step();
                if (!row.ok()) return row.status();
                items = (*count)->ColumnInt64(0);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(items, 1);
}

}  // namespace
}  // namespace coffer::storage
