#include "services/storage/repos/snapshots_repo.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/account_filters.h"
#include "services/storage/repos/account_history.h"
#include "services/storage/repos/digest.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/query_plan.h"
#include "services/storage/repos/quoted.h"
#include "services/storage/repos/snapshot_parts_repo.h"
#include "services/storage/repos/snapshot_reads_repo.h"
#include "services/storage/repos/valuation.h"

namespace coffer::storage {
namespace {

constexpr absl::string_view kLatestTokenKind = "latest-v1";
constexpr uint64_t kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// The digest of `request`'s content: everything but its idempotency key and
// fence, which say who writes it, not what. `legacy`: see CanonicalBytes.
absl::StatusOr<std::string> ContentHash(const v1::WriteSnapshotRequest& request, bool legacy) {
  return ContentDigest(
      request,
      [](v1::WriteSnapshotRequest& content) {
        content.clear_idempotency_key();
        content.clear_fence();
      },
      legacy);
}

// Answers a retry of the write that committed `snapshot` (already_written),
// or ALREADY_EXISTS when the request's content is not that snapshot's.
absl::Status AnswerCommitted(db::WriteContext& tx, const PreparedSnapshot& prepared,
                             const SnapshotOfKey& snapshot, v1::WriteSnapshotResponse* response) {
  const v1::WriteSnapshotRequest& request = *prepared.request;
  bool same;
  if (request.parts() > 0) {
    ASSIGN_OR_RETURN(const StoredSnapshotParts parts, ReadSnapshotParts(tx, snapshot.snapshot_id));
    ASSIGN_OR_RETURN(const std::string hash, CommittedContentHash(prepared.content_hash, parts));
    same = snapshot.content_hash == hash;
  } else {
    same = snapshot.content_hash == prepared.content_hash;
    if (!same) {
      // Written before content hashes took their sizes (CanonicalBytes)?
      ASSIGN_OR_RETURN(const std::string legacy, ContentHash(request, /*legacy=*/true));
      same = snapshot.content_hash == legacy;
    }
  }
  if (!same) {
    return absl::AlreadyExistsError(
        absl::StrCat("idempotency_key: ", Quoted(request.idempotency_key()),
                     " was written with other content (snapshot ", snapshot.snapshot_id, ")"));
  }
  response->Clear();
  response->set_already_written(true);
  return LoadSnapshot(tx.connection(), snapshot.snapshot_id, response->mutable_snapshot());
}

absl::Status InsertBlocks(db::WriteContext& tx, int64_t snapshot_id,
                          const PreparedSnapshot& prepared) {
  for (const auto& [chain_id, block] : prepared.blocks) {
    ASSIGN_OR_RETURN(db::CachedStatement insert_block,
                     tx.Prepare("INSERT INTO snapshot_blocks (snapshot_id, chain_id, number, "
                                "hash, block_time) VALUES (?1, ?2, ?3, ?4, ?5)"));
    RETURN_IF_ERROR(insert_block->Bind(1, snapshot_id));
    RETURN_IF_ERROR(insert_block->Bind(2, chain_id));
    RETURN_IF_ERROR(insert_block->Bind(3, static_cast<int64_t>(block->number())));
    RETURN_IF_ERROR(insert_block->Bind(4, block->hash()));
    if (block->has_time()) {
      ASSIGN_OR_RETURN(const int64_t block_time, ToNanos(block->time(), "time"));
      RETURN_IF_ERROR(insert_block->Bind(5, block_time));
    }
    RETURN_IF_ERROR(insert_block->Run());
  }
  return absl::OkStatus();
}

// Commits the open snapshot `snapshot` of the request's key with its parts
// (see WriteSnapshot). Its parts' items are stored already; latest_balances
// and the account history take them only now, with the request's own, read
// back from snapshot_items as one set.
absl::Status CommitParts(db::WriteContext& tx, const PreparedSnapshot& prepared,
                         const SnapshotOfKey& snapshot, v1::WriteSnapshotResponse* response,
                         int64_t now_nanos) {
  const v1::WriteSnapshotRequest& request = *prepared.request;
  const std::string& key = request.idempotency_key();
  const int64_t snapshot_id = snapshot.snapshot_id;
  // PrepareSnapshot requires it with parts.
  const int64_t taken_at = prepared.taken_at.value_or(now_nanos);
  if (taken_at != snapshot.taken_at) {
    return absl::InvalidArgumentError(absl::StrCat("taken_at: ", TimeText(taken_at),
                                                   ", but the parts of ", Quoted(key),
                                                   " were taken at ", TimeText(snapshot.taken_at)));
  }
  ASSIGN_OR_RETURN(const StoredSnapshotParts parts, ReadSnapshotParts(tx, snapshot_id));
  RETURN_IF_ERROR(CheckPartsComplete(parts, request.parts(), key));
  const int64_t given = parts.given_items + request.items_size();
  if (given > static_cast<int64_t>(kMaxSnapshotItems)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("items: ", given, " items with the parts', at most ", kMaxSnapshotItems));
  }
  ASSIGN_OR_RETURN(const std::string hash, CommittedContentHash(prepared.content_hash, parts));

  RETURN_IF_ERROR(InsertBlocks(tx, snapshot_id, prepared));
  ASSIGN_OR_RETURN(
      const SnapshotItemCounts own,
      InsertSnapshotItems(tx, snapshot_id, taken_at, prepared.items, LatestBalances::kLeave));
  ASSIGN_OR_RETURN(const SnapshotItemCounts all,
                   UpdateLatestFromStoredItems(tx, snapshot_id, taken_at));

  ASSIGN_OR_RETURN(db::CachedStatement commit,
                   tx.Prepare("UPDATE snapshots SET content_hash = ?2, written_at = ?3, "
                              "run_id = ?4, open_since = NULL, items = ?5, failed_items = ?6, "
                              "skipped_items = ?7 WHERE snapshot_id = ?1"));
  RETURN_IF_ERROR(commit->Bind(1, snapshot_id));
  RETURN_IF_ERROR(commit->Bind(2, db::Blob{hash}));
  RETURN_IF_ERROR(commit->Bind(3, now_nanos));
  RETURN_IF_ERROR(commit->Bind(4, request.run_id()));
  RETURN_IF_ERROR(commit->Bind(5, all.stored));
  RETURN_IF_ERROR(commit->Bind(6, all.failed));
  RETURN_IF_ERROR(commit->Bind(7, parts.skipped_items + own.skipped));
  RETURN_IF_ERROR(commit->Run());
  RETURN_IF_ERROR(AddToAccountHistory(tx, snapshot_id, all.stored));

  response->Clear();
  response->set_already_written(false);
  return LoadSnapshot(tx.connection(), snapshot_id, response->mutable_snapshot());
}

}  // namespace

absl::StatusOr<PreparedSnapshot> PrepareSnapshot(const v1::WriteSnapshotRequest& request) {
  PreparedSnapshot prepared;
  prepared.request = &request;
  RETURN_IF_ERROR(ValidateIdempotencyKey(request.idempotency_key()));
  if (request.parts() > kMaxSnapshotParts) {
    return absl::InvalidArgumentError(
        absl::StrCat("parts: ", request.parts(), ", at most ", kMaxSnapshotParts));
  }
  if (request.has_taken_at()) {
    ASSIGN_OR_RETURN(prepared.taken_at, ToNanos(request.taken_at(), "taken_at"));
  } else if (request.parts() > 0) {
    // Its parts' items carry it already.
    return absl::InvalidArgumentError("taken_at: required with parts");
  }

  std::vector<std::pair<std::string, const v1::BlockRef*>>& blocks = prepared.blocks;
  std::set<std::string> block_chains;
  for (int i = 0; i < request.blocks_size(); ++i) {
    const v1::BlockRef& block = request.blocks(i);
    const std::string field = absl::StrCat("blocks[", i, "]");
    absl::StatusOr<chain::ChainId> chain_id = chain::ParseChainId(block.chain_id());
    if (!chain_id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".chain_id: ", chain_id.status().message()));
    }
    std::string normalized = chain_id->ToString();
    if (!block_chains.insert(normalized).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".chain_id: ", normalized, " appears more than once"));
    }
    if (block.number() > kMaxInt64) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".number: out of range"));
    }
    if (block.has_time()) RETURN_IF_ERROR(ToNanos(block.time(), field + ".time").status());
    blocks.emplace_back(std::move(normalized), &block);
  }

  RETURN_IF_ERROR(PrepareItems(request.items(), prepared.items));
  ASSIGN_OR_RETURN(prepared.content_hash, ContentHash(request, /*legacy=*/false));
  return prepared;
}

absl::Status WriteSnapshot(db::WriteContext& tx, const v1::WriteSnapshotRequest& request,
                           v1::WriteSnapshotResponse* response, absl::Time now) {
  ASSIGN_OR_RETURN(const PreparedSnapshot prepared, PrepareSnapshot(request));
  return WriteSnapshot(tx, prepared, response, now);
}

absl::Status WriteSnapshot(db::WriteContext& tx, const PreparedSnapshot& prepared,
                           v1::WriteSnapshotResponse* response, absl::Time now) {
  const v1::WriteSnapshotRequest& request = *prepared.request;
  const std::string& key = request.idempotency_key();
  const int64_t now_nanos = absl::ToUnixNanos(now);
  const int64_t taken_at = prepared.taken_at.value_or(now_nanos);

  // Before the fence, so a writer that lost its lease after committing can
  // still learn its write landed.
  ASSIGN_OR_RETURN(const std::optional<SnapshotOfKey> existing, FindSnapshotOfKey(tx, key));
  if (existing.has_value() && !existing->open) {
    return AnswerCommitted(tx, prepared, *existing, response);
  }

  RETURN_IF_ERROR(CheckFenceIfSet(tx, request.fence(), now));

  if (request.parts() > 0) {
    if (!existing.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("parts: part 0 of idempotency_key ", Quoted(key), " was never written"));
    }
    return CommitParts(tx, prepared, *existing, response, now_nanos);
  }
  if (existing.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("parts: 0, but idempotency_key ", Quoted(key),
                     " has parts written (committing none would drop them)"));
  }

  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO snapshots (idempotency_key, content_hash, taken_at, written_at, "
                 "run_id) VALUES (?1, ?2, ?3, ?4, ?5)"));
  RETURN_IF_ERROR(insert->Bind(1, key));
  RETURN_IF_ERROR(insert->Bind(2, db::Blob{prepared.content_hash}));
  RETURN_IF_ERROR(insert->Bind(3, taken_at));
  RETURN_IF_ERROR(insert->Bind(4, now_nanos));
  RETURN_IF_ERROR(insert->Bind(5, request.run_id()));
  RETURN_IF_ERROR(insert->Run());
  const int64_t snapshot_id = tx.connection().LastInsertRowId();

  RETURN_IF_ERROR(InsertBlocks(tx, snapshot_id, prepared));
  ASSIGN_OR_RETURN(
      const SnapshotItemCounts counts,
      InsertSnapshotItems(tx, snapshot_id, taken_at, prepared.items, LatestBalances::kUpdate));

  ASSIGN_OR_RETURN(db::CachedStatement update_counts,
                   tx.Prepare("UPDATE snapshots SET items = ?2, failed_items = ?3, "
                              "skipped_items = ?4 WHERE snapshot_id = ?1"));
  RETURN_IF_ERROR(update_counts->Bind(1, snapshot_id));
  RETURN_IF_ERROR(update_counts->Bind(2, counts.stored));
  RETURN_IF_ERROR(update_counts->Bind(3, counts.failed));
  RETURN_IF_ERROR(update_counts->Bind(4, counts.skipped));
  RETURN_IF_ERROR(update_counts->Run());
  RETURN_IF_ERROR(AddToAccountHistory(tx, snapshot_id, counts.stored));

  response->Clear();
  response->set_already_written(false);
  return LoadSnapshot(tx.connection(), snapshot_id, response->mutable_snapshot());
}

namespace {

// The filters of a GetLatestBalances request in normal form.
struct LatestFilters {
  std::set<std::string> account_ids;  // normalized; empty: registered accounts
  std::set<std::string> asset_ids;    // normalized; empty: all
  std::string chain_id;               // normalized; empty: all
  std::vector<std::string> tags;      // sorted, unique
  bool exclude_zero = false;

  std::string Fingerprint() const {
    std::string text;
    for (const std::string& id : account_ids) absl::StrAppend(&text, id, ",");
    absl::StrAppend(&text, "|");
    for (const std::string& id : asset_ids) absl::StrAppend(&text, id, ",");
    absl::StrAppend(&text, "|", chain_id, "|");
    for (const std::string& tag : tags) absl::StrAppend(&text, tag, ",");
    absl::StrAppend(&text, "|", exclude_zero ? 1 : 0);
    return text;
  }
};

absl::StatusOr<LatestFilters> ParseFilters(const v1::GetLatestBalancesRequest& request) {
  LatestFilters filters;
  RETURN_IF_ERROR(ValidateQuoteCurrency(request.quote_currency(), "quote_currency"));
  if (static_cast<size_t>(request.account_ids_size()) > kMaxLatestBalanceIds) {
    return absl::ResourceExhaustedError(absl::StrCat("account_ids: ", request.account_ids_size(),
                                                     " ids, at most ", kMaxLatestBalanceIds));
  }
  if (static_cast<size_t>(request.asset_ids_size()) > kMaxLatestBalanceIds) {
    return absl::ResourceExhaustedError(absl::StrCat("asset_ids: ", request.asset_ids_size(),
                                                     " ids, at most ", kMaxLatestBalanceIds));
  }
  for (int i = 0; i < request.account_ids_size(); ++i) {
    absl::StatusOr<std::string> id = chain::NormalizeAccountId(request.account_ids(i));
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("account_ids[", i, "]: ", id.status().message()));
    }
    filters.account_ids.insert(*std::move(id));
  }
  for (int i = 0; i < request.asset_ids_size(); ++i) {
    absl::StatusOr<std::string> id = chain::NormalizeAssetId(request.asset_ids(i));
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("asset_ids[", i, "]: ", id.status().message()));
    }
    filters.asset_ids.insert(*std::move(id));
  }
  ASSIGN_OR_RETURN(filters.chain_id, NormalizeChainFilter(request.chain_id(), "chain_id"));
  ASSIGN_OR_RETURN(filters.tags, NormalizeTags(request.tags(), "tags"));
  filters.exclude_zero = request.exclude_zero();
  return filters;
}

// The chain of a normalized CAIP-10 id: its first two ':'-separated parts.
std::string ChainOf(absl::string_view account_id) {
  const size_t first = account_id.find(':');
  if (first == absl::string_view::npos) return "";
  const size_t second = account_id.find(':', first + 1);
  return std::string(account_id.substr(0, second));
}

// Named account ids bound into one run of the page query. Each run is one
// indexed probe per id; a page runs the query again for the next ids only
// when the previous ones did not fill it.
constexpr int kNamedIdsPerRun = 64;
// Parameters of the page query, by number. Only those its shape uses are
// bound.
constexpr int kAfterAccountParam = 1;
constexpr int kAfterAssetParam = 2;
constexpr int kChainParam = 3;
constexpr int kFirstTagParam = 4;
constexpr int kTagListParam = 5;
constexpr int kTagCountParam = 6;
constexpr int kFirstNamedIdParam = 7;
// Separates tags in the ?5 list; stored tags never contain it
// ([a-z0-9][a-z0-9_.-]{0,31}).
constexpr char kTagSeparator = '\n';

// Which loop drives the page query, chosen so each filter is an index
// search rather than a check on every row: the named ids (probing
// latest_balances' key), the first tag (account_tags_by_tag), or the
// registered accounts (accounts_by_chain with a chain, else accounts' key).
// Each yields accounts in id order, so the page needs no sort beyond one
// within an account's few rows.
enum class LatestDriver { kNamedIds, kTag, kAccounts };

LatestDriver DriverOf(const LatestFilters& filters) {
  if (!filters.account_ids.empty()) return LatestDriver::kNamedIds;
  if (!filters.tags.empty()) return LatestDriver::kTag;
  return LatestDriver::kAccounts;
}

// The page query for `filters`' shape. Its text depends only on the shape
// (never on values), so each shape is prepared once per connection. Asset
// ids are checked on the rows read: an account has a few assets, and a list
// of up to 1,000 ids would not fit SQLite's parameters.
std::string LatestBalancesSql(const LatestFilters& filters) {
  const LatestDriver driver = DriverOf(filters);
  const bool by_chain = driver != LatestDriver::kNamedIds && !filters.chain_id.empty();
  std::string sql =
      "SELECT lb.account_id, lb.asset_id, lb.last_attempt_at, lb.value_snapshot_id, lb.units, "
      "lb.decimals, lb.as_of, lb.block_number, lb.error_code, lb.error_message, "
      "lb.error_upstream, si.error_retry_after_ns FROM ";
  // The column the cursor and order apply to: the driving loop's.
  std::string account;
  switch (driver) {
    case LatestDriver::kNamedIds:
      account = "lb.account_id";
      absl::StrAppend(&sql, "latest_balances lb ");
      break;
    case LatestDriver::kTag:
      account = "t0.account_id";
      absl::StrAppend(&sql, "account_tags t0 ",
                      by_chain ? "JOIN accounts a ON a.account_id = t0.account_id " : "",
                      "JOIN latest_balances lb ON lb.account_id = t0.account_id ");
      break;
    case LatestDriver::kAccounts:
      account = "a.account_id";
      absl::StrAppend(&sql, "accounts a JOIN latest_balances lb ON lb.account_id = a.account_id ");
      break;
  }
  // retry_after lives only on the item; only failed readings look it up.
  absl::StrAppend(&sql,
                  "LEFT JOIN snapshot_items si ON si.item_id = lb.last_item_id "
                  "AND lb.error_code IS NOT NULL WHERE ",
                  account, " >= ?1 AND (", account, " > ?1 OR lb.asset_id > ?2)");
  if (driver == LatestDriver::kNamedIds) {
    absl::StrAppend(&sql, " AND lb.account_id IN (");
    for (int i = 0; i < kNamedIdsPerRun; ++i) {
      absl::StrAppend(&sql, i == 0 ? "?" : ", ?", kFirstNamedIdParam + i);
    }
    absl::StrAppend(&sql, ")");
  }
  if (driver == LatestDriver::kTag) absl::StrAppend(&sql, " AND t0.tag = ?4");
  if (by_chain) absl::StrAppend(&sql, " AND a.chain_id = ?3");
  if (!filters.tags.empty()) {
    absl::StrAppend(&sql,
                    " AND (SELECT COUNT(*) FROM account_tags t WHERE t.account_id = ", account,
                    " AND instr(?5, char(10) || t.tag || char(10)) > 0) = ?6");
  }
  if (filters.exclude_zero) {
    absl::StrAppend(&sql,
                    " AND (lb.error_code IS NOT NULL OR lb.units IS NULL OR lb.units != '0')");
  }
  absl::StrAppend(&sql, " ORDER BY ", account, ", lb.asset_id");
  return sql;
}

// Binds everything but the named ids and the cursor.
absl::Status BindFilters(db::Statement& select, const LatestFilters& filters) {
  const LatestDriver driver = DriverOf(filters);
  if (driver != LatestDriver::kNamedIds && !filters.chain_id.empty()) {
    RETURN_IF_ERROR(select.Bind(kChainParam, filters.chain_id));
  }
  if (!filters.tags.empty()) {
    if (driver == LatestDriver::kTag) RETURN_IF_ERROR(select.Bind(kFirstTagParam, filters.tags[0]));
    const std::string separator(1, kTagSeparator);
    RETURN_IF_ERROR(select.Bind(
        kTagListParam, absl::StrCat(separator, absl::StrJoin(filters.tags, separator), separator)));
    RETURN_IF_ERROR(select.Bind(kTagCountParam, static_cast<int64_t>(filters.tags.size())));
  }
  return absl::OkStatus();
}

void FillLatest(const db::Statement& row, int64_t now_nanos, v1::LatestBalance* balance) {
  balance->set_account_id(std::string(row.ColumnText(0)));
  balance->set_asset_id(std::string(row.ColumnText(1)));
  *balance->mutable_last_attempt_at() = ToTimestamp(row.ColumnInt64(2));
  if (!row.ColumnIsNull(4)) {
    balance->mutable_amount()->set_units(std::string(row.ColumnText(4)));
    balance->mutable_amount()->set_decimals(static_cast<uint32_t>(row.ColumnInt64(5)));
    const int64_t as_of = row.ColumnInt64(6);
    *balance->mutable_as_of() = ToTimestamp(as_of);
    *balance->mutable_age() = ToDuration(now_nanos > as_of ? now_nanos - as_of : 0);
    if (!row.ColumnIsNull(7)) balance->set_block_number(static_cast<uint64_t>(row.ColumnInt64(7)));
    balance->set_snapshot_id(SnapshotIdText(row.ColumnInt64(3)));
  }
  if (!row.ColumnIsNull(8)) {
    v1::Error* error = balance->mutable_error();
    error->set_code(static_cast<v1::Error::Code>(row.ColumnInt64(8)));
    error->set_message(std::string(row.ColumnText(9)));
    error->set_upstream(std::string(row.ColumnText(10)));
    if (!row.ColumnIsNull(11)) *error->mutable_retry_after() = ToDuration(row.ColumnInt64(11));
  }
}

// Steps `select` into `response` until the page holds `page_size` balances;
// answers whether another matching row follows.
absl::StatusOr<bool> ReadRows(db::Statement& select, const LatestFilters& filters,
                              int32_t page_size, int64_t now_nanos,
                              v1::GetLatestBalancesResponse* response) {
  while (true) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return false;
    if (!filters.asset_ids.empty() &&
        !filters.asset_ids.contains(std::string(select.ColumnText(1)))) {
      continue;
    }
    if (response->balances_size() == page_size) return true;
    FillLatest(select, now_nanos, response->add_balances());
  }
}

}  // namespace

absl::Status GetLatestBalances(db::ReadContext& tx, const v1::GetLatestBalancesRequest& request,
                               v1::GetLatestBalancesResponse* response, absl::Time now) {
  ASSIGN_OR_RETURN(LatestFilters filters, ParseFilters(request));
  ASSIGN_OR_RETURN(const int32_t page_size, PageSize(request.page(), kDefaultLatestBalancesPageSize,
                                                     kMaxLatestBalancesPageSize));
  ASSIGN_OR_RETURN(const std::string fingerprint, Sha256(filters.Fingerprint()));
  // Hex: the token's parts must hold no NUL, which a raw digest may.
  const std::string fingerprint_hex = absl::BytesToHexString(fingerprint);
  ASSIGN_OR_RETURN(const std::vector<std::string> cursor,
                   DecodePageToken(request.page().page_token(), kLatestTokenKind, fingerprint_hex,
                                   2, "GetLatestBalances"));
  const std::string after_account = cursor.empty() ? std::string() : cursor[0];
  const std::string after_asset = cursor.empty() ? std::string() : cursor[1];

  response->Clear();
  // Named ids (registered or not) are narrowed by chain here, by their
  // spelling; tags are checked in the query.
  std::vector<std::string> named;
  for (auto id = filters.account_ids.lower_bound(after_account); id != filters.account_ids.end();
       ++id) {
    if (filters.chain_id.empty() || ChainOf(*id) == filters.chain_id) named.push_back(*id);
  }
  if (!filters.account_ids.empty() && named.empty()) return absl::OkStatus();

  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(LatestBalancesSql(filters)));
  bool more = false;
  size_t next_named = 0;
  absl::Status status;
  while (status.ok()) {
    select->Reset();
    status = BindFilters(*select, filters);
    if (status.ok()) status = select->Bind(kAfterAccountParam, after_account);
    if (status.ok()) status = select->Bind(kAfterAssetParam, after_asset);
    for (int i = 0; status.ok() && i < kNamedIdsPerRun && !named.empty(); ++i) {
      // Past the last id, bind NULL: it matches nothing.
      status = next_named < named.size() ? select->Bind(kFirstNamedIdParam + i, named[next_named++])
                                         : select->BindNull(kFirstNamedIdParam + i);
    }
    if (!status.ok()) break;
    absl::StatusOr<bool> found_more = ReadRows(*select, filters, page_size, now_nanos, response);
    if (!found_more.ok()) {
      status = found_more.status();
      break;
    }
    more = *found_more;
    if (more || named.empty() || next_named >= named.size()) break;
  }
  select->Reset();
  RETURN_IF_ERROR(status);
  if (!request.quote_currency().empty()) {
    // One price lookup per asset of the page, in this read's snapshot.
    RETURN_IF_ERROR(
        ValueLatestBalances(tx, request.quote_currency(), response->mutable_balances()));
  }
  if (more) {
    const v1::LatestBalance& last = response->balances(response->balances_size() - 1);
    response->mutable_page()->set_next_page_token(
        EncodePageToken(kLatestTokenKind, fingerprint_hex, {last.account_id(), last.asset_id()}));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ExplainLatestBalances(
    db::ReadContext& tx, const v1::GetLatestBalancesRequest& request) {
  ASSIGN_OR_RETURN(LatestFilters filters, ParseFilters(request));
  return QueryPlan(tx, LatestBalancesSql(filters));
}

}  // namespace coffer::storage
