#include "services/storage/repos/history_repo.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include <openssl/evp.h>

#include "common/chain/amount.h"
#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/digest.h"
#include "services/storage/repos/open_snapshots.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/query_plan.h"
#include "services/storage/repos/valuation.h"

namespace coffer::storage {
namespace {

// Kind of GetBalanceHistory's page tokens (paging.h).
constexpr absl::string_view kPageTokenKind = "history-v1";
constexpr size_t kMaxQuoteCurrencyLength = 16;

// The request, validated and normalized.
struct HistoryFilters {
  std::string account_id;
  std::string asset_id;
  int64_t start = std::numeric_limits<int64_t>::min();
  int64_t end = std::numeric_limits<int64_t>::max();
  bool sum_accounts = false;
  std::string quote_currency;
  bool newest_first = false;

  // What a page token is bound to.
  std::string Fingerprint() const {
    return absl::StrCat(account_id, "|", asset_id, "|", start, "|", end, "|", sum_accounts ? 1 : 0,
                        "|", quote_currency, "|", newest_first ? 1 : 0);
  }
};

absl::StatusOr<HistoryFilters> ParseFilters(const v1::GetBalanceHistoryRequest& request) {
  HistoryFilters filters;
  if (request.account_id().empty() && request.asset_id().empty()) {
    return absl::InvalidArgumentError(
        "account_id: at least one of account_id and asset_id is required");
  }
  if (!request.account_id().empty()) {
    absl::StatusOr<std::string> id = chain::NormalizeAccountId(request.account_id());
    if (!id.ok())
      return absl::InvalidArgumentError(absl::StrCat("account_id: ", id.status().message()));
    filters.account_id = *std::move(id);
  }
  if (!request.asset_id().empty()) {
    absl::StatusOr<std::string> id = chain::NormalizeAssetId(request.asset_id());
    if (!id.ok())
      return absl::InvalidArgumentError(absl::StrCat("asset_id: ", id.status().message()));
    filters.asset_id = *std::move(id);
  }
  if (request.has_start_time()) {
    ASSIGN_OR_RETURN(filters.start, ToNanos(request.start_time(), "start_time"));
  }
  if (request.has_end_time()) {
    ASSIGN_OR_RETURN(filters.end, ToNanos(request.end_time(), "end_time"));
  }
  if (request.sum_accounts() && (!filters.account_id.empty() || filters.asset_id.empty())) {
    return absl::InvalidArgumentError("sum_accounts: only with asset_id and without account_id");
  }
  filters.sum_accounts = request.sum_accounts();
  const std::string& quote = request.quote_currency();
  if (quote.size() > kMaxQuoteCurrencyLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quote_currency: ", quote.size(), " characters, at most ", kMaxQuoteCurrencyLength));
  }
  for (char c : quote) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return absl::InvalidArgumentError("quote_currency: not lowercase letters and digits");
    }
  }
  filters.quote_currency = quote;
  filters.newest_first = request.newest_first();
  return filters;
}

// Where the previous page stopped: the last point's sort key.
struct Cursor {
  int64_t taken_at = 0;
  int64_t snapshot_id = 0;
  std::string account_id;
  std::string asset_id;
};

std::string EncodeToken(const std::string& fingerprint, const Cursor& cursor) {
  return EncodePageToken(kPageTokenKind, fingerprint,
                         {absl::StrCat(cursor.taken_at), absl::StrCat(cursor.snapshot_id),
                          cursor.account_id, cursor.asset_id});
}

absl::StatusOr<std::optional<Cursor>> DecodeToken(absl::string_view page_token,
                                                  const std::string& fingerprint) {
  ASSIGN_OR_RETURN(
      std::vector<std::string> parts,
      DecodePageToken(page_token, kPageTokenKind, fingerprint, 4, "GetBalanceHistory"));
  if (parts.empty()) return std::nullopt;
  Cursor cursor;
  if (!absl::SimpleAtoi(parts[0], &cursor.taken_at) ||
      !absl::SimpleAtoi(parts[1], &cursor.snapshot_id)) {
    return absl::InvalidArgumentError(
        "page.page_token: not a token of GetBalanceHistory with these filters");
  }
  cursor.account_id = std::move(parts[2]);
  cursor.asset_id = std::move(parts[3]);
  return cursor;
}

// The keyset condition after a cursor, on the columns of `table` (a name
// and a dot, or empty): ?5 taken_at, ?6 snapshot_id, ?7 account_id, ?8
// asset_id. SQLite 3.15 has no row values, so it is written out. The index
// range comes from ?3/?4 alone (one bound per side, so SQLite cannot pick
// the looser of two).
std::string AfterCursor(const HistoryFilters& filters, absl::string_view table) {
  const absl::string_view after = filters.newest_first ? "<" : ">";
  std::string sql = absl::StrCat(" AND (", table, "taken_at ", after, " ?5 OR (", table,
                                 "taken_at = ?5 AND (", table, "snapshot_id ", after, " ?6");
  if (filters.sum_accounts) {
    absl::StrAppend(&sql, ")))");
  } else {
    absl::StrAppend(&sql, " OR (", table, "snapshot_id = ?6 AND (", table, "account_id ", after,
                    " ?7 OR (", table, "account_id = ?7 AND ", table, "asset_id ", after,
                    " ?8))))))");
  }
  return sql;
}

// The columns every history query answers, in the order GetBalanceHistory
// reads them; the key columns from `key`, the rest from the item `i`.
std::string HistoryColumns(absl::string_view key) {
  return absl::StrCat("SELECT ", key, "snapshot_id AS snapshot_id, ", key, "taken_at AS taken_at, ",
                      key, "account_id AS account_id, ", key,
                      "asset_id AS asset_id, i.units, i.decimals, i.error_code, i.error_message, "
                      "i.error_upstream, i.error_retry_after_ns, i.block_number ");
}

// The SELECT for `filters`: ?1 account_id, ?2 asset_id, ?3 and ?4 the
// range on taken_at (narrowed to the cursor's taken_at by BindHistory), then
// with a cursor ?5-?8 (AfterCursor).
//
// With account_id, two parts merged in order (account_history.h): the
// merged items from account_history, whose key (account_id, taken_at,
// snapshot_id, asset_id) is exactly the ORDER BY (account_id being fixed),
// so SQLite steps through it without a sort and stops after the page; and
// the items of the few pending snapshots, one key lookup each, less what a
// pass in progress has already merged (merged_below; compared with ?1, not
// i.account_id, which SQLite 3.15 would take for a range on the key instead
// of the equality), sorted. An
// asset filter is checked on the key in passing (schema.cc, version 2).
// With asset_id alone, rows are in taken_at order and only the rows of one
// taken_at get sorted; the items of open snapshots (written in parts, not
// committed) are left out by a list of their ids built once per query from
// the partial index snapshots_open, so the items index keeps serving the
// range and the order. account_history and its pending list only ever hold
// committed snapshots.
std::string HistorySql(const HistoryFilters& filters, bool has_cursor) {
  const absl::string_view dir = filters.newest_first ? " DESC" : "";
  const std::string order = absl::StrCat(" ORDER BY taken_at", dir, ", snapshot_id", dir,
                                         ", account_id", dir, ", asset_id", dir);
  if (filters.account_id.empty()) {
    std::string sql =
        absl::StrCat(HistoryColumns("i."),
                     "FROM snapshot_items i INDEXED BY snapshot_items_by_asset_time WHERE "
                     "i.asset_id = ?2 AND i.taken_at >= ?3 AND i.taken_at < ?4 AND "
                     "i.snapshot_id NOT IN " COFFER_OPEN_SNAPSHOT_IDS);
    if (has_cursor) absl::StrAppend(&sql, AfterCursor(filters, "i."));
    return absl::StrCat(sql, order);
  }
  const bool one_asset = !filters.asset_id.empty();
  std::string merged =
      absl::StrCat(HistoryColumns("h."),
                   "FROM account_history h CROSS JOIN snapshot_items i ON i.item_id = h.item_id "
                   "WHERE h.account_id = ?1 AND ",
                   one_asset ? "h.asset_id = ?2 AND " : "", "h.taken_at >= ?3 AND h.taken_at < ?4");
  std::string pending =
      absl::StrCat(HistoryColumns("i."),
                   "FROM account_history_pending p CROSS JOIN snapshot_items i ON "
                   "i.snapshot_id = p.snapshot_id AND i.account_id = ?1 WHERE "
                   "?1 >= p.merged_below AND ",
                   one_asset ? "i.asset_id = ?2 AND " : "", "i.taken_at >= ?3 AND i.taken_at < ?4");
  if (has_cursor) {
    absl::StrAppend(&merged, AfterCursor(filters, "h."));
    absl::StrAppend(&pending, AfterCursor(filters, "i."));
  }
  return absl::StrCat(merged, " UNION ALL ", pending, order);
}

// Binds HistorySql's parameters. The range on taken_at is narrowed to the
// cursor's side of it, so the index range starts at the cursor rather than
// at start_time (oldest first) or end_time (newest first).
absl::Status BindHistory(db::Statement& select, const HistoryFilters& filters,
                         const std::optional<Cursor>& cursor) {
  int64_t start = filters.start;
  int64_t end = filters.end;
  if (cursor.has_value()) {
    if (filters.newest_first) {
      // taken_at <= cursor; at the largest int64 that bounds nothing.
      if (cursor->taken_at < std::numeric_limits<int64_t>::max()) {
        end = std::min(end, cursor->taken_at + 1);
      }
    } else {
      start = std::max(start, cursor->taken_at);
    }
  }
  if (!filters.account_id.empty()) RETURN_IF_ERROR(select.Bind(1, filters.account_id));
  if (!filters.asset_id.empty()) RETURN_IF_ERROR(select.Bind(2, filters.asset_id));
  RETURN_IF_ERROR(select.Bind(3, start));
  RETURN_IF_ERROR(select.Bind(4, end));
  if (cursor.has_value()) {
    RETURN_IF_ERROR(select.Bind(5, cursor->taken_at));
    RETURN_IF_ERROR(select.Bind(6, cursor->snapshot_id));
    if (!filters.sum_accounts) {
      RETURN_IF_ERROR(select.Bind(7, cursor->account_id));
      RETURN_IF_ERROR(select.Bind(8, cursor->asset_id));
    }
  }
  return absl::OkStatus();
}

// A request, validated: its filters, what its page tokens are bound to, and
// where its page starts.
struct ParsedRequest {
  HistoryFilters filters;
  std::string fingerprint;
  std::optional<Cursor> cursor;
};

// The page token is checked after the page size, as before (the error a
// request with several faults gets stays the same).
absl::StatusOr<ParsedRequest> ParseRequest(const v1::GetBalanceHistoryRequest& request,
                                           HistoryFilters filters) {
  ParsedRequest parsed;
  parsed.filters = std::move(filters);
  // Hex: the raw digest may hold the NUL that separates token fields.
  ASSIGN_OR_RETURN(const std::string digest, Sha256(parsed.filters.Fingerprint()));
  parsed.fingerprint = absl::BytesToHexString(digest);
  ASSIGN_OR_RETURN(parsed.cursor, DecodeToken(request.page().page_token(), parsed.fingerprint));
  return parsed;
}

void ReadError(const db::Statement& select, v1::Error* error) {
  error->set_code(static_cast<v1::Error::Code>(select.ColumnInt64(6)));
  error->set_message(std::string(select.ColumnText(7)));
  error->set_upstream(std::string(select.ColumnText(8)));
  if (!select.ColumnIsNull(9)) *error->mutable_retry_after() = ToDuration(select.ColumnInt64(9));
}

// A sum_accounts point being built.
struct SumPoint {
  v1::BalancePoint point;
  std::optional<chain::DecimalAmount> total;
  Cursor cursor;
};

void FinishSum(SumPoint& sum, v1::GetBalanceHistoryResponse* response) {
  if (sum.total.has_value()) {
    sum.point.clear_error();
    sum.point.mutable_amount()->set_units(sum.total->units);
    sum.point.mutable_amount()->set_decimals(sum.total->decimals);
  }
  *response->add_points() = std::move(sum.point);
}

// Values each point with an amount at the latest price stored at or before
// its taken_at: what the holding was worth when it was read, not today.
// Points between two price changes share one lookup.
absl::Status ValuePoints(db::ReadContext& tx, const std::string& quote_currency,
                         google::protobuf::RepeatedPtrField<v1::BalancePoint>* points) {
  PriceBook book(tx, quote_currency);
  for (v1::BalancePoint& point : *points) {
    if (!point.has_amount()) continue;
    ASSIGN_OR_RETURN(const int64_t taken_at, ToNanos(point.taken_at(), "points.taken_at"));
    ASSIGN_OR_RETURN(const v1::Price* price, book.AtOrBefore(point.asset_id(), taken_at));
    if (price == nullptr) continue;
    ASSIGN_OR_RETURN(std::optional<v1::Amount> value, ValueAt(point.amount(), *price));
    if (value.has_value()) *point.mutable_value() = *std::move(value);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status GetBalanceHistory(db::ReadContext& tx, const v1::GetBalanceHistoryRequest& request,
                               v1::GetBalanceHistoryResponse* response) {
  ASSIGN_OR_RETURN(HistoryFilters parsed_filters, ParseFilters(request));
  int32_t page_size = request.page().page_size();
  if (page_size < 0) return absl::InvalidArgumentError("page.page_size: negative");
  if (page_size == 0) page_size = kDefaultHistoryPageSize;
  if (page_size > kMaxHistoryPageSize) page_size = kMaxHistoryPageSize;
  ASSIGN_OR_RETURN(const ParsedRequest parsed, ParseRequest(request, std::move(parsed_filters)));
  const HistoryFilters& filters = parsed.filters;
  const std::string& fingerprint = parsed.fingerprint;
  const std::optional<Cursor>& cursor = parsed.cursor;

  response->Clear();
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(HistorySql(filters, cursor.has_value())));
  RETURN_IF_ERROR(BindHistory(*select, filters, cursor));

  Cursor last;
  bool more = false;
  // A unique_ptr, not an optional: GCC 12 at -O2 misreads the optional's
  // string members as maybe-uninitialized (-Werror).
  std::unique_ptr<SumPoint> sum;
  while (true) {
    ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    Cursor key;
    key.snapshot_id = select->ColumnInt64(0);
    key.taken_at = select->ColumnInt64(1);
    const bool failed = !select->ColumnIsNull(6);
    if (filters.sum_accounts) {
      if (sum == nullptr || sum->cursor.snapshot_id != key.snapshot_id) {
        if (sum != nullptr) {
          FinishSum(*sum, response);
          last = sum->cursor;
          sum.reset();
        }
        if (response->points_size() >= page_size) {
          more = true;
          break;
        }
        sum = std::make_unique<SumPoint>();
        sum->cursor = key;
        sum->point.set_snapshot_id(absl::StrCat(key.snapshot_id));
        *sum->point.mutable_taken_at() = ToTimestamp(key.taken_at);
        sum->point.set_asset_id(filters.asset_id);
      }
      if (failed) {
        sum->point.set_failed_accounts(sum->point.failed_accounts() + 1);
        if (!sum->point.has_error()) ReadError(*select, sum->point.mutable_error());
      } else {
        chain::DecimalAmount amount{std::string(select->ColumnText(4)),
                                    static_cast<uint32_t>(select->ColumnInt64(5))};
        if (sum->total.has_value()) {
          ASSIGN_OR_RETURN(sum->total, chain::AddAmounts(*sum->total, amount));
        } else {
          sum->total = std::move(amount);
        }
      }
      continue;
    }
    if (response->points_size() >= page_size) {
      more = true;
      break;
    }
    key.account_id = std::string(select->ColumnText(2));
    key.asset_id = std::string(select->ColumnText(3));
    v1::BalancePoint* point = response->add_points();
    point->set_snapshot_id(absl::StrCat(key.snapshot_id));
    *point->mutable_taken_at() = ToTimestamp(key.taken_at);
    point->set_account_id(key.account_id);
    point->set_asset_id(key.asset_id);
    if (failed) {
      ReadError(*select, point->mutable_error());
    } else {
      point->mutable_amount()->set_units(std::string(select->ColumnText(4)));
      point->mutable_amount()->set_decimals(static_cast<uint32_t>(select->ColumnInt64(5)));
    }
    if (!select->ColumnIsNull(10)) {
      point->set_block_number(static_cast<uint64_t>(select->ColumnInt64(10)));
    }
    last = std::move(key);
  }
  select->Reset();
  if (sum != nullptr) FinishSum(*sum, response);
  if (!filters.quote_currency.empty()) {
    RETURN_IF_ERROR(ValuePoints(tx, filters.quote_currency, response->mutable_points()));
  }
  if (more) response->mutable_page()->set_next_page_token(EncodeToken(fingerprint, last));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ExplainBalanceHistory(
    db::ReadContext& tx, const v1::GetBalanceHistoryRequest& request) {
  ASSIGN_OR_RETURN(HistoryFilters filters, ParseFilters(request));
  ASSIGN_OR_RETURN(const ParsedRequest parsed, ParseRequest(request, std::move(filters)));
  return QueryPlan(tx, HistorySql(parsed.filters, parsed.cursor.has_value()));
}

}  // namespace coffer::storage
