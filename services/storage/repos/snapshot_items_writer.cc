#include "services/storage/repos/snapshot_items_writer.h"

#include <limits>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

#include "common/chain/amount.h"
#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/fence.h"
#include "services/storage/repos/proto_time.h"

namespace coffer::storage {
namespace {

constexpr size_t kMaxIdempotencyKeyLength = 128;
constexpr uint64_t kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

using ValidItem = PreparedItems::Item;

// An item's field name, built only when an error names it, not for every
// item (and sub-field) that turns out valid: PrepareItems runs per item.
std::string ItemField(int index, absl::string_view suffix) {
  return absl::StrCat("items[", index, "]", suffix);
}

absl::Status ValidateAmount(const v1::Amount& amount, int index, absl::string_view suffix) {
  absl::Status status = chain::ValidateBalance(amount.units(), amount.decimals());
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ItemField(index, suffix), ": ", status.message()));
  }
  return absl::OkStatus();
}

// The ids of one request, each spelling parsed once: parsing an EVM id
// checks or computes its EIP-55 checksum (a Keccak-256 each time). Indexes
// point into PreparedItems::account_ids / asset_ids, which are reserved for
// every item up front so that the views into them stay valid here.
struct ParsedIds {
  // By spelling in the request (views into the request).
  absl::flat_hash_map<absl::string_view, uint32_t> account_by_spelling;
  absl::flat_hash_map<absl::string_view, uint32_t> asset_by_spelling;
  // By normal form: two spellings of one id are one id.
  absl::flat_hash_map<absl::string_view, uint32_t> account_by_id;
  absl::flat_hash_map<absl::string_view, uint32_t> asset_by_id;
  // The chain of each id, by index.
  std::vector<chain::ChainId> account_chains;
  std::vector<chain::ChainId> asset_chains;
};

// A parsed id: its normal form and chain.
struct NormalId {
  std::string id;
  chain::ChainId chain;
};

template <typename Id>
absl::StatusOr<NormalId> Normal(absl::StatusOr<Id> parsed) {
  if (!parsed.ok()) return parsed.status();
  return NormalId{parsed->ToString(), std::move(parsed->chain)};
}

// Account ids PrepareItems has parsed, by spelling. Refreshes name the same
// accounts in every snapshot, and parsing an EVM account checks or computes
// its EIP-55 checksum (a Keccak-256): remembering them took PrepareSnapshot
// of 10,000 accounts from 18.5 to 13.4 ms (a scratch study of one
// 10,000-item write). Parsing is a pure function and only ids that parsed
// are kept, so an answer from here is the one parsing gives. Shared by the
// prep threads; emptied when full.
class AccountIdCache {
 public:
  static AccountIdCache& Get() {
    static AccountIdCache* const cache = new AccountIdCache;
    return *cache;
  }

  absl::StatusOr<NormalId> Parse(absl::string_view spelling) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = ids_.find(spelling); it != ids_.end()) return it->second;
    }
    absl::StatusOr<NormalId> parsed = Normal(chain::ParseAccountId(spelling));
    if (parsed.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (ids_.size() >= kMaxIds) ids_.clear();
      ids_.emplace(spelling, *parsed);
    }
    return parsed;
  }

 private:
  // ~30 MB at most (~290 bytes an id).
  static constexpr size_t kMaxIds = kMaxSnapshotItems;

  std::mutex mu_;
  absl::flat_hash_map<std::string, NormalId> ids_ ABSL_GUARDED_BY(mu_);
};

// The index of `text`'s normal form in `ids` (parsed with `parse` when first
// seen), or INVALID_ARGUMENT naming items[index]`suffix`.
template <typename Parse>
absl::StatusOr<uint32_t> IdIndex(absl::string_view text, Parse parse, int index,
                                 absl::string_view suffix,
                                 absl::flat_hash_map<absl::string_view, uint32_t>& by_spelling,
                                 absl::flat_hash_map<absl::string_view, uint32_t>& by_id,
                                 std::vector<std::string>& ids,
                                 std::vector<chain::ChainId>& chains) {
  // One hash of the spelling whether it is new or not.
  auto [spelling, new_spelling] = by_spelling.try_emplace(text, 0);
  if (!new_spelling) return spelling->second;
  absl::StatusOr<NormalId> parsed = parse(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ItemField(index, suffix), ": ", parsed.status().message()));
  }
  ids.push_back(std::move(parsed->id));  // reserved: no reallocation
  auto [id, new_id] = by_id.try_emplace(ids.back(), static_cast<uint32_t>(ids.size() - 1));
  if (new_id) {
    chains.push_back(std::move(parsed->chain));
  } else {
    ids.pop_back();  // another spelling of an id seen before
  }
  spelling->second = id->second;
  return id->second;
}

absl::Status ValidateItem(const v1::BalanceItem& item, int index, ParsedIds& ids,
                          PreparedItems& prepared, ValidItem& valid) {
  valid.item = &item;
  ASSIGN_OR_RETURN(valid.account,
                   IdIndex(
                       item.account_id(),
                       [](absl::string_view text) { return AccountIdCache::Get().Parse(text); },
                       index, ".account_id", ids.account_by_spelling, ids.account_by_id,
                       prepared.account_ids, ids.account_chains));
  ASSIGN_OR_RETURN(
      valid.asset,
      IdIndex(
          item.asset_id(), [](absl::string_view text) { return Normal(chain::ParseAssetId(text)); },
          index, ".asset_id", ids.asset_by_spelling, ids.asset_by_id, prepared.asset_ids,
          ids.asset_chains));
  const chain::ChainId& account_chain = ids.account_chains[valid.account];
  const chain::ChainId& asset_chain = ids.asset_chains[valid.asset];
  if (!(asset_chain == account_chain)) {
    return absl::InvalidArgumentError(absl::StrCat(ItemField(index, ".asset_id"),
                                                   ": asset of chain ", asset_chain.ToString(),
                                                   ", account of ", account_chain.ToString()));
  }
  switch (item.result_case()) {
    case v1::BalanceItem::kAmount:
      RETURN_IF_ERROR(ValidateAmount(item.amount(), index, ".amount"));
      break;
    case v1::BalanceItem::kError:
      if (item.error().code() < 1 || item.error().code() > 16) {
        return absl::InvalidArgumentError(absl::StrCat(ItemField(index, ".error.code"), ": ",
                                                       item.error().code(), " is not 1 to 16"));
      }
      if (item.error().has_retry_after()) {
        absl::StatusOr<int64_t> nanos = DurationNanos(item.error().retry_after(), "");
        if (!nanos.ok()) {
          return DurationNanos(item.error().retry_after(), ItemField(index, ".error.retry_after"))
              .status();
        }
        valid.retry_after = *nanos;
      }
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(ItemField(index, ""), ": exactly one of amount or error is required"));
  }
  if (item.has_block_number() && item.block_number() > kMaxInt64) {
    return absl::InvalidArgumentError(
        absl::StrCat(ItemField(index, ".block_number"), ": out of range"));
  }
  if (item.has_fetched_at()) {
    absl::StatusOr<int64_t> nanos = ToNanos(item.fetched_at(), "");
    if (!nanos.ok()) return ToNanos(item.fetched_at(), ItemField(index, ".fetched_at")).status();
    valid.fetched_at = *nanos;
  }
  if (item.has_unconfirmed_incoming()) {
    RETURN_IF_ERROR(ValidateAmount(item.unconfirmed_incoming(), index, ".unconfirmed_incoming"));
  }
  if (item.has_unconfirmed_outgoing()) {
    RETURN_IF_ERROR(ValidateAmount(item.unconfirmed_outgoing(), index, ".unconfirmed_outgoing"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> IsRegistered(db::WriteContext& tx, const std::string& account_id) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT 1 FROM accounts WHERE account_id = ?1"));
  RETURN_IF_ERROR(select->Bind(1, account_id));
  return select->Step();
}

// Stores one item unless its account is not registered or its (account,
// asset) is in the snapshot already, in one statement: the account_id
// inserted is looked up in accounts, and is NULL (which its NOT NULL
// constraint IGNOREs: no row, no error) when the account is not registered.
// A SELECT per account before cost ~1.1 us per item of the writer's ~12.5 (a
// scratch study of a 10,000-item snapshot). OR IGNORE rather than INSERT
// ... SELECT ... WHERE EXISTS: an INSERT from a SELECT may write several
// rows, and with the immediate foreign key on snapshot_id that makes SQLite
// keep a statement journal (see UpdateLatest): 39 us per item instead of
// 3.4, even as INSERT OR FAIL. The only other constraint that can be
// ignored here is the UNIQUE key, when another part of the snapshot holds
// the (account, asset): the items are validated (the CHECKs), unique within
// their request, and bind no NULL to a NOT NULL column but that one.
// InsertSnapshotItems tells the two apart by the account. Answers whether
// the item was stored.
absl::StatusOr<bool> InsertItem(db::WriteContext& tx, db::Statement& insert, int64_t snapshot_id,
                                int64_t taken_at, const std::string& account_id,
                                const std::string& asset_id, const ValidItem& valid) {
  const v1::BalanceItem& item = *valid.item;
  insert.Reset();
  RETURN_IF_ERROR(insert.Bind(1, snapshot_id));
  RETURN_IF_ERROR(insert.Bind(2, account_id));
  RETURN_IF_ERROR(insert.Bind(3, asset_id));
  RETURN_IF_ERROR(insert.Bind(4, taken_at));
  if (item.has_amount()) {
    RETURN_IF_ERROR(insert.Bind(5, item.amount().units()));
    RETURN_IF_ERROR(insert.Bind(6, static_cast<int64_t>(item.amount().decimals())));
  } else {
    RETURN_IF_ERROR(insert.Bind(7, static_cast<int64_t>(item.error().code())));
    RETURN_IF_ERROR(insert.Bind(8, item.error().message()));
    RETURN_IF_ERROR(insert.Bind(9, item.error().upstream()));
    if (valid.retry_after.has_value()) RETURN_IF_ERROR(insert.Bind(10, *valid.retry_after));
  }
  if (item.has_block_number()) {
    RETURN_IF_ERROR(insert.Bind(11, static_cast<int64_t>(item.block_number())));
  }
  RETURN_IF_ERROR(insert.Bind(12, item.block_hash()));
  RETURN_IF_ERROR(insert.Bind(13, item.source()));
  if (valid.fetched_at.has_value()) RETURN_IF_ERROR(insert.Bind(14, *valid.fetched_at));
  if (item.has_unconfirmed_incoming()) {
    RETURN_IF_ERROR(insert.Bind(15, item.unconfirmed_incoming().units()));
    RETURN_IF_ERROR(insert.Bind(16, static_cast<int64_t>(item.unconfirmed_incoming().decimals())));
  }
  if (item.has_unconfirmed_outgoing()) {
    RETURN_IF_ERROR(insert.Bind(17, item.unconfirmed_outgoing().units()));
    RETURN_IF_ERROR(insert.Bind(18, static_cast<int64_t>(item.unconfirmed_outgoing().decimals())));
  }
  RETURN_IF_ERROR(insert.Run());
  return tx.connection().Changes() == 1;
}

constexpr char kInsertItemSql[] =
    "INSERT OR IGNORE INTO snapshot_items (snapshot_id, account_id, asset_id, taken_at, units, "
    "decimals, error_code, error_message, error_upstream, error_retry_after_ns, block_number, "
    "block_hash, source, fetched_at, unconfirmed_incoming_units, unconfirmed_incoming_decimals, "
    "unconfirmed_outgoing_units, unconfirmed_outgoing_decimals) VALUES (?1, (SELECT account_id "
    "FROM accounts WHERE account_id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
    "?15, ?16, ?17, ?18)";

// Keeps the (account, asset)'s latest_balances row: the reading replaces
// the latest attempt when it is not older (?4 >= last_attempt_at), and the
// latest value when it has one (?10) not older than the value kept. Every
// expression sees the row as it was before the UPDATE. One UPDATE decides
// both per row, instead of a SELECT then an UPDATE or INSERT (2.9 us per
// item instead of 4.3); a row it did not find is new and INSERTed. An
// older reading rewrites its row unchanged (rare: a snapshot written late).
//
// UPDATE OR FAIL, not the default OR ABORT: the two are the same for an
// update of one row (the CHECKs are tested before anything is written), but
// an UPDATE that may ABORT makes SQLite keep a statement journal, an
// encrypted copy of the page it changes under SQLCipher: a fifth of the
// writer's time per item (tools/bench/storage).
constexpr char kUpdateLatestSql[] =
    "UPDATE OR FAIL latest_balances SET "
    "last_item_id = CASE WHEN ?4 >= last_attempt_at THEN ?3 ELSE last_item_id END, "
    "error_code = CASE WHEN ?4 >= last_attempt_at THEN ?5 ELSE error_code END, "
    "error_message = CASE WHEN ?4 >= last_attempt_at THEN ?6 ELSE error_message END, "
    "error_upstream = CASE WHEN ?4 >= last_attempt_at THEN ?7 ELSE error_upstream END, "
    "last_attempt_at = CASE WHEN ?4 >= last_attempt_at THEN ?4 ELSE last_attempt_at END, "
    "value_item_id = CASE WHEN ?10 IS NOT NULL AND (as_of IS NULL OR ?4 >= as_of) "
    "THEN ?8 ELSE value_item_id END, "
    "value_snapshot_id = CASE WHEN ?10 IS NOT NULL AND (as_of IS NULL OR ?4 >= as_of) "
    "THEN ?9 ELSE value_snapshot_id END, "
    "units = CASE WHEN ?10 IS NOT NULL AND (as_of IS NULL OR ?4 >= as_of) "
    "THEN ?10 ELSE units END, "
    "decimals = CASE WHEN ?10 IS NOT NULL AND (as_of IS NULL OR ?4 >= as_of) "
    "THEN ?11 ELSE decimals END, "
    "block_number = CASE WHEN ?10 IS NOT NULL AND (as_of IS NULL OR ?4 >= as_of) "
    "THEN ?12 ELSE block_number END, "
    "as_of = CASE WHEN ?10 IS NOT NULL AND (as_of IS NULL OR ?4 >= as_of) THEN ?4 ELSE as_of END "
    "WHERE account_id = ?1 AND asset_id = ?2";

constexpr char kInsertLatestSql[] =
    "INSERT INTO latest_balances (account_id, asset_id, last_item_id, last_attempt_at, "
    "error_code, error_message, error_upstream, value_item_id, value_snapshot_id, units, "
    "decimals, block_number, as_of) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "?13)";

// One stored item as latest_balances takes it, whether it comes from the
// request just stored or is read back from snapshot_items. Views into
// either.
struct LatestReading {
  absl::string_view account_id;
  absl::string_view asset_id;
  int64_t item_id = 0;
  // The error, when the reading failed (error_code != 0)...
  int64_t error_code = 0;
  absl::string_view error_message;
  absl::string_view error_upstream;
  // ...else the value.
  absl::string_view units;
  int64_t decimals = 0;
  std::optional<int64_t> block_number;
};

LatestReading ReadingOf(const ValidItem& valid, int64_t item_id, absl::string_view account_id,
                        absl::string_view asset_id) {
  const v1::BalanceItem& item = *valid.item;
  LatestReading reading;
  reading.account_id = account_id;
  reading.asset_id = asset_id;
  reading.item_id = item_id;
  if (item.has_error()) {
    reading.error_code = item.error().code();
    reading.error_message = item.error().message();
    reading.error_upstream = item.error().upstream();
  } else {
    reading.units = item.amount().units();
    reading.decimals = item.amount().decimals();
    if (item.has_block_number()) reading.block_number = static_cast<int64_t>(item.block_number());
  }
  return reading;
}

// Binds one reading to kUpdateLatestSql's or kInsertLatestSql's parameters
// (the same but for as_of: ?4 there, ?13 here).
absl::Status BindLatest(db::Statement& write, int64_t snapshot_id, int64_t taken_at,
                        const LatestReading& reading) {
  write.Reset();
  RETURN_IF_ERROR(write.Bind(1, reading.account_id));
  RETURN_IF_ERROR(write.Bind(2, reading.asset_id));
  RETURN_IF_ERROR(write.Bind(3, reading.item_id));
  RETURN_IF_ERROR(write.Bind(4, taken_at));
  if (reading.error_code != 0) {
    RETURN_IF_ERROR(write.Bind(5, reading.error_code));
    RETURN_IF_ERROR(write.Bind(6, reading.error_message));
    RETURN_IF_ERROR(write.Bind(7, reading.error_upstream));
    return absl::OkStatus();
  }  // else ?5-?7 stay NULL: the reading succeeded; ?8-?12 too: no value.
  RETURN_IF_ERROR(write.Bind(8, reading.item_id));
  RETURN_IF_ERROR(write.Bind(9, snapshot_id));
  RETURN_IF_ERROR(write.Bind(10, reading.units));
  RETURN_IF_ERROR(write.Bind(11, reading.decimals));
  if (reading.block_number.has_value()) RETURN_IF_ERROR(write.Bind(12, *reading.block_number));
  return absl::OkStatus();
}

// latest_balances' two statements, taken from the connection's cache once
// per snapshot rather than once per item (a lookup by the SQL's text, copied
// and hashed each time).
struct LatestStatements {
  static absl::StatusOr<LatestStatements> Prepare(db::WriteContext& tx) {
    ASSIGN_OR_RETURN(db::CachedStatement update, tx.Prepare(kUpdateLatestSql));
    ASSIGN_OR_RETURN(db::CachedStatement insert, tx.Prepare(kInsertLatestSql));
    return LatestStatements{std::move(update), std::move(insert)};
  }
  db::CachedStatement update;
  db::CachedStatement insert;
};

absl::Status UpdateLatest(db::WriteContext& tx, LatestStatements& latest, int64_t snapshot_id,
                          int64_t taken_at, const LatestReading& reading) {
  RETURN_IF_ERROR(BindLatest(*latest.update, snapshot_id, taken_at, reading));
  RETURN_IF_ERROR(latest.update->Run());
  if (tx.connection().Changes() > 0) return absl::OkStatus();
  RETURN_IF_ERROR(BindLatest(*latest.insert, snapshot_id, taken_at, reading));
  if (reading.error_code == 0) RETURN_IF_ERROR(latest.insert->Bind(13, taken_at));
  return latest.insert->Run();
}

}  // namespace

absl::Status ValidateIdempotencyKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("idempotency_key: required");
  if (key.size() > kMaxIdempotencyKeyLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "idempotency_key: ", key.size(), " characters, at most ", kMaxIdempotencyKeyLength));
  }
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError("idempotency_key: not printable ASCII");
    }
  }
  return absl::OkStatus();
}

std::string CanonicalBytes(const google::protobuf::MessageLite& message, bool legacy) {
  if (!legacy) message.ByteSizeLong();  // caches every submessage's size
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  return bytes;
}

absl::Status CheckFenceIfSet(db::WriteContext& tx, const v1::Fence& fence, absl::Time now) {
  if (fence.lease_name().empty() && fence.holder_id().empty() && fence.epoch() == 0) {
    return absl::OkStatus();
  }
  return CheckFence(tx, fence, now);
}

absl::Status PrepareItems(const google::protobuf::RepeatedPtrField<v1::BalanceItem>& items,
                          PreparedItems& prepared) {
  const int item_count = items.size();
  if (static_cast<size_t>(item_count) > kMaxSnapshotItems) {
    return absl::ResourceExhaustedError(
        absl::StrCat("items: ", item_count, " items, at most ", kMaxSnapshotItems));
  }
  prepared.list.reserve(item_count);
  // Reserved so that ParsedIds' views into them stay valid (see ParsedIds).
  prepared.account_ids.reserve(item_count);
  prepared.asset_ids.reserve(item_count);
  ParsedIds ids;
  // The first item of each (account, asset), by their indexes.
  absl::flat_hash_map<uint64_t, int> seen;
  seen.reserve(item_count);
  for (int i = 0; i < item_count; ++i) {
    ValidItem& valid = prepared.list.emplace_back();
    RETURN_IF_ERROR(ValidateItem(items.Get(i), i, ids, prepared, valid));
    auto [it, inserted] =
        seen.emplace((static_cast<uint64_t>(valid.account) << 32) | valid.asset, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "items[", i, "]: account ", prepared.account_ids[valid.account], " and asset ",
          prepared.asset_ids[valid.asset], " also in items[", it->second, "]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SnapshotItemCounts> InsertSnapshotItems(db::WriteContext& tx, int64_t snapshot_id,
                                                       int64_t taken_at, const PreparedItems& items,
                                                       LatestBalances latest) {
  SnapshotItemCounts counts;
  ASSIGN_OR_RETURN(db::CachedStatement insert_item, tx.Prepare(kInsertItemSql));
  std::optional<LatestStatements> latest_statements;
  if (latest == LatestBalances::kUpdate) {
    ASSIGN_OR_RETURN(latest_statements, LatestStatements::Prepare(tx));
  }
  for (size_t i = 0; i < items.list.size(); ++i) {
    const ValidItem& valid = items.list[i];
    const std::string& account_id = items.account_ids[valid.account];
    const std::string& asset_id = items.asset_ids[valid.asset];
    ASSIGN_OR_RETURN(const bool inserted, InsertItem(tx, *insert_item, snapshot_id, taken_at,
                                                     account_id, asset_id, valid));
    if (!inserted) {
      // A missing account, or another part's item (see InsertItem).
      ASSIGN_OR_RETURN(const bool registered, IsRegistered(tx, account_id));
      if (registered) {
        return absl::InvalidArgumentError(
            absl::StrCat(ItemField(static_cast<int>(i), ""), ": account ", account_id,
                         " and asset ", asset_id, " also in another part of the snapshot"));
      }
      ++counts.skipped;
      continue;
    }
    if (latest_statements.has_value()) {
      const int64_t item_id = tx.connection().LastInsertRowId();
      RETURN_IF_ERROR(UpdateLatest(tx, *latest_statements, snapshot_id, taken_at,
                                   ReadingOf(valid, item_id, account_id, asset_id)));
    }
    ++counts.stored;
    if (valid.item->has_error()) ++counts.failed;
  }
  return counts;
}

absl::StatusOr<SnapshotItemCounts> UpdateLatestFromStoredItems(db::WriteContext& tx,
                                                               int64_t snapshot_id,
                                                               int64_t taken_at) {
  SnapshotItemCounts counts;
  ASSIGN_OR_RETURN(LatestStatements latest, LatestStatements::Prepare(tx));
  // Through the (snapshot_id, account_id, asset_id) key; latest_balances is
  // written while this reads another table.
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT item_id, account_id, asset_id, units, decimals, error_code, "
                              "error_message, error_upstream, block_number FROM snapshot_items "
                              "WHERE snapshot_id = ?1"));
  RETURN_IF_ERROR(select->Bind(1, snapshot_id));
  while (true) {
    ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    LatestReading reading;
    reading.item_id = select->ColumnInt64(0);
    reading.account_id = select->ColumnText(1);
    reading.asset_id = select->ColumnText(2);
    if (!select->ColumnIsNull(5)) {
      reading.error_code = select->ColumnInt64(5);
      reading.error_message = select->ColumnText(6);
      reading.error_upstream = select->ColumnText(7);
      ++counts.failed;
    } else {
      reading.units = select->ColumnText(3);
      reading.decimals = select->ColumnInt64(4);
      if (!select->ColumnIsNull(8)) reading.block_number = select->ColumnInt64(8);
    }
    RETURN_IF_ERROR(UpdateLatest(tx, latest, snapshot_id, taken_at, reading));
    ++counts.stored;
  }
  return counts;
}

std::string TimeText(int64_t unix_nanos) {
  return absl::FormatTime(absl::RFC3339_full, absl::FromUnixNanos(unix_nanos), absl::UTCTimeZone());
}

}  // namespace coffer::storage
