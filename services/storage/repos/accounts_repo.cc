#include "services/storage/repos/accounts_repo.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/account_filters.h"
#include "services/storage/repos/open_snapshots.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

constexpr size_t kMaxLabelBytes = 100;
constexpr size_t kMaxAssetIds = 100;
constexpr int32_t kDefaultPageSize = 100;
// Pages as large as a refresh reads them in (services/scheduler/runs/
// refresh_balances_run.cc): 10,000 accounts listed in 10 pages of 1,000 took
// the refresh 0.056-0.11 s of round trips, in 3 pages 0.03-0.05 s
// (tools/bench/refresh). ~140 bytes an account on the wire: 1.4 MB at most.
constexpr int32_t kMaxPageSize = 10000;
// Kind of ListAccounts' page tokens (paging.h).
constexpr absl::string_view kPageTokenKind = "accounts-v1";

v1::ChainKind ChainKindOf(absl::string_view chain_id) {
  if (absl::StartsWith(chain_id, "eip155:")) return v1::CHAIN_KIND_EVM;
  if (absl::StartsWith(chain_id, "bip122:")) return v1::CHAIN_KIND_BITCOIN;
  return v1::CHAIN_KIND_UNSPECIFIED;
}

// The filters of a ListAccounts request in normal form: the page token is
// bound to them.
struct ListFilters {
  std::string chain_id;
  std::vector<std::string> tags;  // sorted, unique

  std::string Fingerprint() const { return absl::StrCat(chain_id, "|", absl::StrJoin(tags, ",")); }
};

// One AddAccounts item after validation.
struct ValidAccount {
  std::string account_id;  // normalized
  std::string chain_id;
  std::string address;
  std::string label;
  std::vector<std::string> tags;       // sorted, unique
  std::vector<std::string> asset_ids;  // normalized, sorted, unique
};

absl::StatusOr<ValidAccount> ValidateAccount(const v1::Account& account, int index) {
  const std::string field = absl::StrCat("accounts[", index, "]");
  absl::StatusOr<chain::AccountId> id = chain::ParseAccountId(account.account_id());
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".account_id: ", id.status().message()));
  }
  ValidAccount valid;
  valid.account_id = id->ToString();
  valid.chain_id = id->chain.ToString();
  valid.address = id->address;
  if (account.label().size() > kMaxLabelBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".label: ", account.label().size(),
                                                   " bytes, at most ", kMaxLabelBytes));
  }
  valid.label = account.label();
  ASSIGN_OR_RETURN(valid.tags, NormalizeTags(account.tags(), absl::StrCat(field, ".tags")));
  if (static_cast<size_t>(account.asset_ids_size()) > kMaxAssetIds) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".asset_ids: ", account.asset_ids_size(),
                                                   " ids, at most ", kMaxAssetIds));
  }
  std::set<std::string> assets;
  for (int i = 0; i < account.asset_ids_size(); ++i) {
    const std::string asset_field = absl::StrCat(field, ".asset_ids[", i, "]");
    absl::StatusOr<chain::AssetId> asset = chain::ParseAssetId(account.asset_ids(i));
    if (!asset.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(asset_field, ": ", asset.status().message()));
    }
    if (!(asset->chain == id->chain)) {
      return absl::InvalidArgumentError(absl::StrCat(asset_field, ": asset of chain ",
                                                     asset->chain.ToString(), ", account of ",
                                                     valid.chain_id));
    }
    assets.insert(asset->ToString());
  }
  valid.asset_ids.assign(assets.begin(), assets.end());
  return valid;
}

// The first column of every row of `statement`, bound to `key` as ?1.
absl::StatusOr<std::vector<std::string>> Strings(absl::StatusOr<db::CachedStatement> prepared,
                                                 absl::string_view key) {
  ASSIGN_OR_RETURN(db::CachedStatement statement, std::move(prepared));
  RETURN_IF_ERROR(statement->Bind(1, key));
  std::vector<std::string> values;
  while (true) {
    ASSIGN_OR_RETURN(bool row, statement->Step());
    if (!row) break;
    values.emplace_back(statement->ColumnText(0));
  }
  return values;
}

constexpr char kSelectTags[] = "SELECT tag FROM account_tags WHERE account_id = ?1 ORDER BY tag";
constexpr char kSelectAssets[] =
    "SELECT asset_id FROM account_assets WHERE account_id = ?1 ORDER BY asset_id";

// Replaces an account's tags and assets with `account`'s.
absl::Status WriteSets(db::WriteContext& tx, const ValidAccount& account) {
  for (const char* sql : {"DELETE FROM account_tags WHERE account_id = ?1",
                          "DELETE FROM account_assets WHERE account_id = ?1"}) {
    ASSIGN_OR_RETURN(db::CachedStatement statement, tx.Prepare(sql));
    RETURN_IF_ERROR(statement->Bind(1, account.account_id));
    RETURN_IF_ERROR(statement->Run());
  }
  for (const std::string& tag : account.tags) {
    ASSIGN_OR_RETURN(db::CachedStatement statement,
                     tx.Prepare("INSERT INTO account_tags (account_id, tag) VALUES (?1, ?2)"));
    RETURN_IF_ERROR(statement->Bind(1, account.account_id));
    RETURN_IF_ERROR(statement->Bind(2, tag));
    RETURN_IF_ERROR(statement->Run());
  }
  for (const std::string& asset : account.asset_ids) {
    ASSIGN_OR_RETURN(
        db::CachedStatement statement,
        tx.Prepare("INSERT INTO account_assets (account_id, asset_id) VALUES (?1, ?2)"));
    RETURN_IF_ERROR(statement->Bind(1, account.account_id));
    RETURN_IF_ERROR(statement->Bind(2, asset));
    RETURN_IF_ERROR(statement->Run());
  }
  return absl::OkStatus();
}

void FillAccount(const ValidAccount& valid, int64_t created_at, int64_t updated_at,
                 v1::Account* account) {
  account->set_account_id(valid.account_id);
  account->set_chain_id(valid.chain_id);
  account->set_address(valid.address);
  account->set_chain_kind(ChainKindOf(valid.chain_id));
  account->set_label(valid.label);
  for (const std::string& tag : valid.tags) account->add_tags(tag);
  for (const std::string& asset : valid.asset_ids) account->add_asset_ids(asset);
  *account->mutable_created_at() = ToTimestamp(created_at);
  *account->mutable_updated_at() = ToTimestamp(updated_at);
}

// Registers or updates one validated account; fills `result` but for its
// account_id (the id as given).
absl::Status Upsert(db::WriteContext& tx, const ValidAccount& account, int64_t now,
                    v1::AccountResult* result) {
  ASSIGN_OR_RETURN(
      db::CachedStatement select,
      tx.Prepare("SELECT label, created_at, updated_at FROM accounts WHERE account_id = ?1"));
  RETURN_IF_ERROR(select->Bind(1, account.account_id));
  ASSIGN_OR_RETURN(bool exists, select->Step());
  if (!exists) {
    ASSIGN_OR_RETURN(db::CachedStatement insert,
                     tx.Prepare("INSERT INTO accounts (account_id, chain_id, address, label,"
                                " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)"));
    RETURN_IF_ERROR(insert->Bind(1, account.account_id));
    RETURN_IF_ERROR(insert->Bind(2, account.chain_id));
    RETURN_IF_ERROR(insert->Bind(3, account.address));
    RETURN_IF_ERROR(insert->Bind(4, account.label));
    RETURN_IF_ERROR(insert->Bind(5, now));
    RETURN_IF_ERROR(insert->Run());
    RETURN_IF_ERROR(WriteSets(tx, account));
    result->set_outcome(v1::AccountResult::CREATED);
    FillAccount(account, now, now, result->mutable_account());
    return absl::OkStatus();
  }
  const std::string label(select->ColumnText(0));
  const int64_t created_at = select->ColumnInt64(1);
  int64_t updated_at = select->ColumnInt64(2);
  select->Reset();
  ASSIGN_OR_RETURN(std::vector<std::string> tags,
                   Strings(tx.Prepare(kSelectTags), account.account_id));
  ASSIGN_OR_RETURN(std::vector<std::string> assets,
                   Strings(tx.Prepare(kSelectAssets), account.account_id));
  if (label == account.label && tags == account.tags && assets == account.asset_ids) {
    result->set_outcome(v1::AccountResult::UNCHANGED);
  } else {
    ASSIGN_OR_RETURN(
        db::CachedStatement update,
        tx.Prepare("UPDATE accounts SET label = ?2, updated_at = ?3 WHERE account_id = ?1"));
    RETURN_IF_ERROR(update->Bind(1, account.account_id));
    RETURN_IF_ERROR(update->Bind(2, account.label));
    RETURN_IF_ERROR(update->Bind(3, now));
    RETURN_IF_ERROR(update->Run());
    RETURN_IF_ERROR(WriteSets(tx, account));
    updated_at = now;
    result->set_outcome(v1::AccountResult::UPDATED);
  }
  FillAccount(account, created_at, updated_at, result->mutable_account());
  return absl::OkStatus();
}

}  // namespace

absl::Status AddAccounts(db::WriteContext& tx, const v1::AddAccountsRequest& request,
                         v1::AddAccountsResponse* response, absl::Time now) {
  response->Clear();
  const size_t count = request.accounts_size();
  if (count == 0) {
    return absl::InvalidArgumentError("accounts: at least 1 account required");
  }
  if (count > kMaxAccountsPerBatch) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "accounts: ", count, " accounts, the limit is ", kMaxAccountsPerBatch, " per call"));
  }
  std::vector<absl::StatusOr<ValidAccount>> items;
  items.reserve(count);
  std::vector<std::string> invalid;
  size_t invalid_count = 0;
  for (size_t i = 0; i < count; ++i) {
    items.push_back(ValidateAccount(request.accounts(i), static_cast<int>(i)));
    if (!items.back().ok()) {
      ++invalid_count;
      if (invalid.size() < kMaxNamedInvalidItems) {
        invalid.push_back(absl::StrCat(Quoted(request.accounts(i).account_id()), ": ",
                                       items.back().status().message()));
      }
    }
  }
  if (request.all_or_nothing() && invalid_count > 0) {
    std::string message =
        absl::StrCat(invalid_count, " of ", count,
                     " accounts invalid, nothing written: ", absl::StrJoin(invalid, "; "));
    if (invalid_count > invalid.size()) {
      absl::StrAppend(&message, "; and ", invalid_count - invalid.size(), " more");
    }
    return absl::InvalidArgumentError(message);
  }

  // An id given twice counts once: the last valid occurrence is written and
  // every occurrence answers its result.
  std::map<std::string, size_t> last_occurrence;
  for (size_t i = 0; i < count; ++i) {
    if (items[i].ok()) last_occurrence[items[i]->account_id] = i;
  }
  const int64_t now_nanos = absl::ToUnixNanos(now);
  std::map<std::string, v1::AccountResult> written;
  for (size_t i = 0; i < count; ++i) {
    if (!items[i].ok() || last_occurrence[items[i]->account_id] != i) continue;
    RETURN_IF_ERROR(Upsert(tx, *items[i], now_nanos, &written[items[i]->account_id]));
  }
  for (size_t i = 0; i < count; ++i) {
    v1::AccountResult* result = response->add_results();
    if (items[i].ok()) {
      *result = written[items[i]->account_id];
    } else {
      result->set_outcome(v1::AccountResult::FAILED);
      result->mutable_error()->set_code(v1::Error::INVALID_ARGUMENT);
      result->mutable_error()->set_message(std::string(items[i].status().message()));
    }
    result->set_account_id(request.accounts(i).account_id());
  }
  return absl::OkStatus();
}

absl::Status RemoveAccounts(db::WriteContext& tx, const v1::RemoveAccountsRequest& request,
                            v1::RemoveAccountsResponse* response) {
  response->Clear();
  const size_t count = request.account_ids_size();
  if (count == 0) {
    return absl::InvalidArgumentError("account_ids: at least 1 id required");
  }
  if (count > kMaxAccountsPerBatch) {
    return absl::ResourceExhaustedError(absl::StrCat("account_ids: ", count, " ids, the limit is ",
                                                     kMaxAccountsPerBatch, " per call"));
  }
  for (size_t i = 0; i < count; ++i) {
    v1::RemovedAccount* result = response->add_results();
    result->set_account_id(request.account_ids(i));
    absl::StatusOr<std::string> id = chain::NormalizeAccountId(request.account_ids(i));
    if (!id.ok()) {
      result->mutable_error()->set_code(v1::Error::INVALID_ARGUMENT);
      result->mutable_error()->set_message(
          absl::StrCat("account_ids[", i, "]: ", id.status().message()));
      continue;
    }
    if (request.delete_history()) {
      // latest_balances first: its rows pin the snapshot items. The items
      // are found through the account-history index, merged and pending
      // (account_history.h), less what a pass in progress has merged
      // (compared with ?1, not i.account_id, which SQLite 3.15 would take
      // for a range on the key instead of the equality); its trigger then
      // drops their entries. Open snapshots' items (written in parts, not
      // committed) are in neither: they are found through the few open
      // snapshots' ids, so a later commit does not bring them back (it
      // counts the items it finds).
      for (const char* sql :
           {"DELETE FROM latest_balances WHERE account_id = ?1",
            "DELETE FROM snapshot_items WHERE item_id IN (SELECT item_id FROM "
            "account_history WHERE account_id = ?1 UNION ALL SELECT i.item_id "
            "FROM account_history_pending p CROSS JOIN snapshot_items i ON "
            "i.snapshot_id = p.snapshot_id AND i.account_id = ?1 WHERE ?1 >= p.merged_below)",
            "DELETE FROM snapshot_items WHERE snapshot_id IN " COFFER_OPEN_SNAPSHOT_IDS
            " AND account_id = ?1"}) {
        ASSIGN_OR_RETURN(db::CachedStatement statement, tx.Prepare(sql));
        RETURN_IF_ERROR(statement->Bind(1, *id));
        RETURN_IF_ERROR(statement->Run());
      }
    }
    ASSIGN_OR_RETURN(db::CachedStatement remove,
                     tx.Prepare("DELETE FROM accounts WHERE account_id = ?1"));
    RETURN_IF_ERROR(remove->Bind(1, *id));
    RETURN_IF_ERROR(remove->Run());
    result->set_removed(tx.connection().Changes() > 0);
  }
  return absl::OkStatus();
}

// Page accounts whose tags and assets one statement run reads: the ids are
// bound as a list (NULL past the last), so the text never changes.
constexpr int kSetIdsPerRun = 250;

// Reads the tags and assets of a page of accounts (in account_id order) with
// two statements per kSetIdsPerRun accounts instead of two per account
// (2,000 per page of 1,000, most of a page's time before; the scheduler
// lists every account on each refresh). Rows come in account order, as the
// page does, so they are matched in one pass.
absl::Status ReadPageSets(db::ReadContext& tx,
                          google::protobuf::RepeatedPtrField<v1::Account>& accounts) {
  for (const bool tags : {true, false}) {
    std::string sql = tags
                          ? "SELECT account_id, tag FROM account_tags WHERE account_id IN ("
                          : "SELECT account_id, asset_id FROM account_assets WHERE account_id IN (";
    for (int i = 1; i <= kSetIdsPerRun; ++i) absl::StrAppend(&sql, i == 1 ? "?" : ", ?", i);
    absl::StrAppend(&sql, tags ? ") ORDER BY account_id, tag" : ") ORDER BY account_id, asset_id");
    ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(sql));
    for (int first = 0; first < accounts.size(); first += kSetIdsPerRun) {
      const int end = std::min(accounts.size(), first + kSetIdsPerRun);
      select->Reset();
      for (int i = 0; i < kSetIdsPerRun; ++i) {
        RETURN_IF_ERROR(first + i < end ? select->Bind(i + 1, accounts[first + i].account_id())
                                        : select->BindNull(i + 1));
      }
      int next = first;
      while (true) {
        ASSIGN_OR_RETURN(const bool row, select->Step());
        if (!row) break;
        const absl::string_view account_id = select->ColumnText(0);
        while (next < end && accounts[next].account_id() < account_id) ++next;
        if (next == end) break;
        if (accounts[next].account_id() == account_id) {
          v1::Account& account = accounts[next];
          (tags ? account.mutable_tags() : account.mutable_asset_ids())
              ->Add(std::string(select->ColumnText(1)));
        }
      }
    }
    select->Reset();
  }
  return absl::OkStatus();
}

namespace {

// Reads one page of the IDS view from `select`, whose rows are (account_id,
// asset_id or NULL) in account order, assets in order within an account:
// adds up to `page_size` accounts and answers whether a further account
// followed. The statement has no LIMIT (an account spans as many rows as it
// has assets): stepping stops at the first account past the page.
absl::StatusOr<bool> ReadIdsPage(db::Statement& select, int32_t page_size,
                                 google::protobuf::RepeatedPtrField<v1::Account>& accounts) {
  absl::StatusOr<bool> more = [&]() -> absl::StatusOr<bool> {
    v1::Account* account = nullptr;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, select.Step());
      if (!row) return false;
      const absl::string_view account_id = select.ColumnText(0);
      if (account == nullptr || account->account_id() != account_id) {
        if (accounts.size() == page_size) return true;
        account = accounts.Add();
        account->set_account_id(std::string(account_id));
      }
      if (!select.ColumnIsNull(1)) account->add_asset_ids(std::string(select.ColumnText(1)));
    }
  }();
  select.Reset();
  return more;
}

}  // namespace

absl::Status ListAccounts(db::ReadContext& tx, const v1::ListAccountsRequest& request,
                          v1::ListAccountsResponse* response) {
  response->Clear();
  if (!v1::AccountView_IsValid(request.view())) {
    return absl::InvalidArgumentError(absl::StrCat("view: unknown value ", request.view()));
  }
  ListFilters filters;
  ASSIGN_OR_RETURN(filters.chain_id, NormalizeChainFilter(request.chain_id(), "chain_id"));
  ASSIGN_OR_RETURN(filters.tags, NormalizeTags(request.tags(), "tags"));
  ASSIGN_OR_RETURN(const int32_t page_size,
                   PageSize(request.page(), kDefaultPageSize, kMaxPageSize));
  // The cursor: the last account_id of the previous page; "" for the first.
  // The view is not in the fingerprint: a token continues the listing in
  // either view.
  ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                   DecodePageToken(request.page().page_token(), kPageTokenKind,
                                   filters.Fingerprint(), 1, "ListAccounts"));
  const std::string after = cursor.empty() ? "" : cursor[0];

  // The IDS view reads neither the other columns nor the tags, and takes
  // the assets in the same statement, joined: listing 10,000 accounts with
  // an asset each in pages of 5,000 cost 8-9 ms of CPU so, 13 ms with the
  // full view's batched set reads, 27-30 ms in the full view (a third of it
  // allocating messages; a scratch timing, -c opt).
  const bool ids_only = request.view() == v1::ACCOUNT_VIEW_IDS;
  // ?1 after, ?2 limit (full view), then the chain and the tags. The text
  // varies only with the view and the number of tags (at most 2 x 17
  // forms), so the statement cache stays small. With tags, the accounts
  // having the first one drive the query through account_tags_by_tag (tag,
  // account_id), already in account order: a page costs what the tagged
  // accounts do, not a look at every account (a task refreshing one tagged
  // account of 10,000 listed it in 18 ms). The IDS view's join keeps the
  // account order, so SQLite at most sorts each account's few assets
  // (EXPLAIN: "TEMP B-TREE FOR RIGHT PART OF ORDER BY") and stops where the
  // page does.
  const bool by_tag = !filters.tags.empty();
  const absl::string_view key = by_tag ? "t0.account_id" : "a.account_id";
  std::string sql = absl::StrCat(
      "SELECT ", key,
      ids_only ? ", s.asset_id" : ", a.chain_id, a.address, a.label, a.created_at, a.updated_at",
      by_tag ? " FROM account_tags t0 CROSS JOIN accounts a ON a.account_id = t0.account_id"
             : " FROM accounts a",
      ids_only ? absl::StrCat(" LEFT JOIN account_assets s ON s.account_id = ", key) : "",
      " WHERE ", key, " > ?1");
  int next = 3;
  if (!filters.chain_id.empty()) absl::StrAppend(&sql, " AND a.chain_id = ?", next++);
  const int first_tag = next;
  if (by_tag) {
    std::vector<std::string> placeholders;
    for (size_t i = 0; i < filters.tags.size(); ++i) {
      placeholders.push_back(absl::StrCat("?", next++));
    }
    absl::StrAppend(&sql, " AND t0.tag = ?", first_tag);
    if (filters.tags.size() > 1) {
      absl::StrAppend(&sql,
                      " AND (SELECT count(*) FROM account_tags t WHERE t.account_id ="
                      " t0.account_id AND t.tag IN (",
                      absl::StrJoin(placeholders, ", "), ")) = ", filters.tags.size());
    }
  }
  absl::StrAppend(&sql, " ORDER BY ", key, ids_only ? ", s.asset_id" : " LIMIT ?2");
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(sql));
  RETURN_IF_ERROR(select->Bind(1, after));
  // One more than the page, to know whether another follows.
  if (!ids_only) RETURN_IF_ERROR(select->Bind(2, int64_t{page_size} + 1));
  if (!filters.chain_id.empty()) RETURN_IF_ERROR(select->Bind(3, filters.chain_id));
  for (size_t i = 0; i < filters.tags.size(); ++i) {
    RETURN_IF_ERROR(select->Bind(first_tag + static_cast<int>(i), filters.tags[i]));
  }
  bool more = false;
  if (ids_only) {
    ASSIGN_OR_RETURN(more, ReadIdsPage(*select, page_size, *response->mutable_accounts()));
  } else {
    ASSIGN_OR_RETURN(more, ReadPage(*select, page_size, [&] {
                       v1::Account* account = response->add_accounts();
                       account->set_account_id(std::string(select->ColumnText(0)));
                       account->set_chain_id(std::string(select->ColumnText(1)));
                       account->set_address(std::string(select->ColumnText(2)));
                       account->set_chain_kind(ChainKindOf(account->chain_id()));
                       account->set_label(std::string(select->ColumnText(3)));
                       *account->mutable_created_at() = ToTimestamp(select->ColumnInt64(4));
                       *account->mutable_updated_at() = ToTimestamp(select->ColumnInt64(5));
                       return absl::OkStatus();
                     }));
    RETURN_IF_ERROR(ReadPageSets(tx, *response->mutable_accounts()));
  }
  if (more) {
    response->mutable_page()->set_next_page_token(
        EncodePageToken(kPageTokenKind, filters.Fingerprint(),
                        {response->accounts(response->accounts_size() - 1).account_id()}));
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage
