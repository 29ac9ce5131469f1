#include "services/storage/repos/snapshot_reads_repo.h"

#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "common/status/status_macros.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

constexpr absl::string_view kSnapshotsTokenKind = "snapshots-v1";
constexpr absl::string_view kItemsTokenKind = "snapshot-items-v1";
constexpr int64_t kMinNanos = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxNanos = std::numeric_limits<int64_t>::max();

absl::StatusOr<int64_t> ParseInt64(absl::string_view text) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || absl::StrCat(value) != text) {
    return absl::InvalidArgumentError("not an integer");
  }
  return value;
}

// The request's [start, end) range on taken_at in nanoseconds, open bounds
// at the int64 limits; `fingerprint` tells set bounds from unset ones.
struct TimeRange {
  int64_t start = kMinNanos;
  int64_t end = kMaxNanos;
  std::string fingerprint;
};

absl::StatusOr<TimeRange> ParseRange(const v1::ListSnapshotsRequest& request) {
  TimeRange range;
  std::string start_text = "-";
  std::string end_text = "-";
  if (request.has_start_time()) {
    ASSIGN_OR_RETURN(range.start, ToNanos(request.start_time(), "start_time"));
    start_text = absl::StrCat(range.start);
  }
  if (request.has_end_time()) {
    ASSIGN_OR_RETURN(range.end, ToNanos(request.end_time(), "end_time"));
    end_text = absl::StrCat(range.end);
  }
  range.fingerprint = absl::StrCat(start_text, "|", end_text);
  return range;
}

// The snapshots columns FillSnapshot reads, in its order.
constexpr char kSnapshotColumns[] =
    "snapshot_id, idempotency_key, taken_at, written_at, run_id, items, failed_items, "
    "skipped_items";

absl::Status FillSnapshot(db::Connection& connection, const db::Statement& row,
                          v1::Snapshot* snapshot) {
  const int64_t row_id = row.ColumnInt64(0);
  snapshot->set_snapshot_id(SnapshotIdText(row_id));
  snapshot->set_idempotency_key(std::string(row.ColumnText(1)));
  *snapshot->mutable_taken_at() = ToTimestamp(row.ColumnInt64(2));
  *snapshot->mutable_written_at() = ToTimestamp(row.ColumnInt64(3));
  snapshot->set_run_id(std::string(row.ColumnText(4)));
  snapshot->set_items(static_cast<uint32_t>(row.ColumnInt64(5)));
  snapshot->set_failed_items(static_cast<uint32_t>(row.ColumnInt64(6)));
  snapshot->set_skipped_items(static_cast<uint32_t>(row.ColumnInt64(7)));
  ASSIGN_OR_RETURN(db::CachedStatement blocks,
                   connection.Prepare("SELECT chain_id, number, hash, block_time FROM "
                                      "snapshot_blocks WHERE snapshot_id = ?1 ORDER BY chain_id"));
  RETURN_IF_ERROR(blocks->Bind(1, row_id));
  while (true) {
    ASSIGN_OR_RETURN(bool block_row, blocks->Step());
    if (!block_row) break;
    v1::BlockRef* block = snapshot->add_blocks();
    block->set_chain_id(std::string(blocks->ColumnText(0)));
    block->set_number(static_cast<uint64_t>(blocks->ColumnInt64(1)));
    block->set_hash(std::string(blocks->ColumnText(2)));
    if (!blocks->ColumnIsNull(3)) *block->mutable_time() = ToTimestamp(blocks->ColumnInt64(3));
  }
  blocks->Reset();
  return absl::OkStatus();
}

// An Amount from (units, decimals) columns; false when units is NULL.
bool ColumnAmount(const db::Statement& row, int units_column, v1::Amount* amount) {
  if (row.ColumnIsNull(units_column)) return false;
  amount->set_units(std::string(row.ColumnText(units_column)));
  amount->set_decimals(static_cast<uint32_t>(row.ColumnInt64(units_column + 1)));
  return true;
}

void FillItem(const db::Statement& row, v1::BalanceItem* item) {
  item->set_account_id(std::string(row.ColumnText(0)));
  item->set_asset_id(std::string(row.ColumnText(1)));
  if (!ColumnAmount(row, 2, item->mutable_amount())) {
    v1::Error* error = item->mutable_error();
    error->set_code(static_cast<v1::Error::Code>(row.ColumnInt64(4)));
    error->set_message(std::string(row.ColumnText(5)));
    error->set_upstream(std::string(row.ColumnText(6)));
    if (!row.ColumnIsNull(7)) *error->mutable_retry_after() = ToDuration(row.ColumnInt64(7));
  }
  if (!row.ColumnIsNull(8)) item->set_block_number(static_cast<uint64_t>(row.ColumnInt64(8)));
  item->set_block_hash(std::string(row.ColumnText(9)));
  item->set_source(std::string(row.ColumnText(10)));
  if (!row.ColumnIsNull(11)) *item->mutable_fetched_at() = ToTimestamp(row.ColumnInt64(11));
  v1::Amount incoming;
  if (ColumnAmount(row, 12, &incoming)) *item->mutable_unconfirmed_incoming() = incoming;
  v1::Amount outgoing;
  if (ColumnAmount(row, 14, &outgoing)) *item->mutable_unconfirmed_outgoing() = outgoing;
}

}  // namespace

std::string SnapshotIdText(int64_t row_id) { return absl::StrCat(row_id); }

absl::StatusOr<int64_t> ParseSnapshotId(absl::string_view text, absl::string_view field) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  absl::StatusOr<int64_t> row_id = ParseInt64(text);
  if (!row_id.ok() || *row_id <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", Quoted(text), " is not a snapshot id"));
  }
  return *row_id;
}

absl::Status LoadSnapshot(db::Connection& connection, int64_t row_id, v1::Snapshot* snapshot) {
  // An open snapshot (its parts written, WriteSnapshot not yet) is no
  // snapshot to any reader.
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   connection.Prepare(absl::StrCat("SELECT ", kSnapshotColumns,
                                                   " FROM snapshots WHERE snapshot_id = ?1 "
                                                   "AND open_since IS NULL")));
  RETURN_IF_ERROR(select->Bind(1, row_id));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("snapshot ", SnapshotIdText(row_id), " not found"));
  }
  absl::Status status = FillSnapshot(connection, *select, snapshot);
  select->Reset();
  return status;
}

absl::Status ListSnapshots(db::ReadContext& tx, const v1::ListSnapshotsRequest& request,
                           v1::ListSnapshotsResponse* response) {
  ASSIGN_OR_RETURN(const TimeRange range, ParseRange(request));
  ASSIGN_OR_RETURN(const int32_t page_size,
                   PageSize(request.page(), kDefaultSnapshotsPageSize, kMaxSnapshotsPageSize));
  ASSIGN_OR_RETURN(const std::vector<std::string> cursor,
                   DecodePageToken(request.page().page_token(), kSnapshotsTokenKind,
                                   range.fingerprint, 2, "ListSnapshots"));
  // The first page starts above every row; later ones below the last one.
  int64_t before_taken_at = kMaxNanos;
  int64_t before_id = kMaxNanos;
  if (!cursor.empty()) {
    absl::StatusOr<int64_t> taken_at = ParseInt64(cursor[0]);
    absl::StatusOr<int64_t> id = ParseInt64(cursor[1]);
    if (!taken_at.ok() || !id.ok()) {
      return absl::InvalidArgumentError(
          "page.page_token: not a token of ListSnapshots with these filters");
    }
    before_taken_at = *taken_at;
    before_id = *id;
  }

  response->Clear();
  // Walks snapshots_by_taken_at backwards from the cursor; no row values in
  // SQLite 3.15, so (taken_at, snapshot_id) < cursor is spelled out. Open
  // snapshots are skipped on the row each listed snapshot reads anyway.
  ASSIGN_OR_RETURN(
      db::CachedStatement select,
      tx.Prepare(absl::StrCat("SELECT ", kSnapshotColumns,
                              " FROM snapshots WHERE taken_at >= ?1 AND taken_at < ?2 "
                              "AND taken_at <= ?3 AND (taken_at < ?3 OR snapshot_id < ?4) "
                              "AND open_since IS NULL "
                              "ORDER BY taken_at DESC, snapshot_id DESC LIMIT ?5")));
  RETURN_IF_ERROR(select->Bind(1, range.start));
  RETURN_IF_ERROR(select->Bind(2, range.end));
  RETURN_IF_ERROR(select->Bind(3, before_taken_at));
  RETURN_IF_ERROR(select->Bind(4, before_id));
  RETURN_IF_ERROR(select->Bind(5, int64_t{page_size} + 1));
  int64_t last_taken_at = 0;
  int64_t last_id = 0;
  ASSIGN_OR_RETURN(const bool more, ReadPage(*select, page_size, [&] {
                     last_id = select->ColumnInt64(0);
                     last_taken_at = select->ColumnInt64(2);
                     return FillSnapshot(tx.connection(), *select, response->add_snapshots());
                   }));
  if (more) {
    response->mutable_page()->set_next_page_token(
        EncodePageToken(kSnapshotsTokenKind, range.fingerprint,
                        {absl::StrCat(last_taken_at), absl::StrCat(last_id)}));
  }
  return absl::OkStatus();
}

absl::Status GetSnapshot(db::ReadContext& tx, const v1::GetSnapshotRequest& request,
                         v1::GetSnapshotResponse* response) {
  ASSIGN_OR_RETURN(const int64_t row_id, ParseSnapshotId(request.snapshot_id(), "snapshot_id"));
  ASSIGN_OR_RETURN(const int32_t page_size, PageSize(request.page(), kDefaultSnapshotItemsPageSize,
                                                     kMaxSnapshotItemsPageSize));
  const std::string fingerprint =
      absl::StrCat(SnapshotIdText(row_id), "|", request.failed_only() ? 1 : 0);
  ASSIGN_OR_RETURN(
      const std::vector<std::string> cursor,
      DecodePageToken(request.page().page_token(), kItemsTokenKind, fingerprint, 2, "GetSnapshot"));
  response->Clear();
  absl::Status loaded = LoadSnapshot(tx.connection(), row_id, response->mutable_snapshot());
  if (absl::IsNotFound(loaded)) {
    return absl::NotFoundError(
        absl::StrCat("snapshot_id: ", Quoted(request.snapshot_id()), " not found"));
  }
  RETURN_IF_ERROR(loaded);

  // The (snapshot_id, account_id, asset_id) UNIQUE index gives the order;
  // (account_id, asset_id) > cursor is spelled out (no row values).
  ASSIGN_OR_RETURN(
      db::CachedStatement select,
      tx.Prepare("SELECT account_id, asset_id, units, decimals, error_code, error_message, "
                 "error_upstream, error_retry_after_ns, block_number, block_hash, source, "
                 "fetched_at, unconfirmed_incoming_units, unconfirmed_incoming_decimals, "
                 "unconfirmed_outgoing_units, unconfirmed_outgoing_decimals "
                 "FROM snapshot_items WHERE snapshot_id = ?1 AND account_id >= ?2 "
                 "AND (account_id > ?2 OR asset_id > ?3) "
                 "AND (?4 = 0 OR error_code IS NOT NULL) "
                 "ORDER BY account_id, asset_id LIMIT ?5"));
  RETURN_IF_ERROR(select->Bind(1, row_id));
  // The first page starts after ("", ""), below every id.
  RETURN_IF_ERROR(select->Bind(2, cursor.empty() ? std::string() : cursor[0]));
  RETURN_IF_ERROR(select->Bind(3, cursor.empty() ? std::string() : cursor[1]));
  RETURN_IF_ERROR(select->Bind(4, int64_t{request.failed_only() ? 1 : 0}));
  RETURN_IF_ERROR(select->Bind(5, int64_t{page_size} + 1));
  ASSIGN_OR_RETURN(const bool more, ReadPage(*select, page_size, [&] {
                     FillItem(*select, response->add_items());
                     return absl::OkStatus();
                   }));
  if (more) {
    const v1::BalanceItem& last = response->items(response->items_size() - 1);
    response->mutable_page()->set_next_page_token(
        EncodePageToken(kItemsTokenKind, fingerprint, {last.account_id(), last.asset_id()}));
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage
