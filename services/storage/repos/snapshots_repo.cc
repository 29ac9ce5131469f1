#include "services/storage/repos/snapshots_repo.h"

#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include <openssl/evp.h>

#include "common/chain/amount.h"
#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/account_filters.h"
#include "services/storage/repos/account_history.h"
#include "services/storage/repos/digest.h"
#include "services/storage/repos/fence.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/query_plan.h"
#include "services/storage/repos/quoted.h"
#include "services/storage/repos/snapshot_reads_repo.h"
#include "services/storage/repos/valuation.h"

namespace coffer::storage {
namespace {

constexpr size_t kMaxIdempotencyKeyLength = 128;
constexpr absl::string_view kLatestTokenKind = "latest-v1";
constexpr uint64_t kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// Deterministic serialization of `message`. `legacy`: without computing
// the sizes first, as content hashes were until 2026-11-27: a fresh copy's
// cached sizes are 0, so every submessage's length prefix read 0. That still
// told contents apart in practice but not unambiguously (a submessage's end
// was lost); it is kept only to recognize a retry of a write stored then.
std::string Canonical(const google::protobuf::MessageLite& message, bool legacy = false) {
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

// The digest of `request`'s content: everything but its idempotency key and
// fence, which say who writes it, not what.
absl::StatusOr<std::string> ContentHash(const v1::WriteSnapshotRequest& request, bool legacy) {
  // The copy on an arena: one block freed at once rather than every item's
  // strings one by one.
  google::protobuf::Arena arena;
  auto* content = google::protobuf::Arena::CreateMessage<v1::WriteSnapshotRequest>(&arena);
  *content = request;
  content->clear_idempotency_key();
  content->clear_fence();
  return Sha256(Canonical(*content, legacy));
}

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

// An item's field name, built only when an error names it, not for every
// item (and sub-field) that turns out valid: PrepareSnapshot runs per item.
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

using ValidItem = PreparedSnapshot::Item;

// The ids of one snapshot, each spelling parsed once: parsing an EVM id
// checks or computes its EIP-55 checksum (a Keccak-256 each time). Indexes
// point into PreparedSnapshot::account_ids / asset_ids, which are reserved
// for every item up front so that the views into them stay valid here.
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

// Account ids PrepareSnapshot has parsed, by spelling. Refreshes name the
// same accounts in every snapshot, and parsing an EVM account checks or
// computes its EIP-55 checksum (a Keccak-256): remembering them took
// PrepareSnapshot of 10,000 accounts from 18.5 to 13.4 ms (a scratch study
// of one 10,000-item write). Parsing is a pure function and only ids that
// parsed are kept, so an answer from here is the one parsing gives. Shared
// by the prep threads; emptied when full.
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
                          PreparedSnapshot& prepared, ValidItem& valid) {
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

absl::Status BindOptional(db::Statement& statement, int index, const std::optional<int64_t>& v) {
  if (v.has_value()) return statement.Bind(index, *v);
  return statement.BindNull(index);
}

// Stores one item unless its account is not registered, in one statement:
// the account_id inserted is looked up in accounts, and is NULL (which its
// NOT NULL constraint IGNOREs: no row, no error) when the account is not
// registered. A SELECT per account before cost ~1.1 us per item of the
// writer's ~12.5 (a scratch study of a 10,000-item snapshot). OR IGNORE
// rather than INSERT ... SELECT ... WHERE EXISTS: an INSERT from a SELECT
// may write several rows, and with the immediate foreign key on
// snapshot_id that makes SQLite keep a statement journal (see
// UpdateLatest): 39 us per item instead of 3.4, even as INSERT OR FAIL.
// No other constraint can be ignored here: the items
// are validated (the CHECKs), unique in a new snapshot (the UNIQUE key) and
// bind no NULL to a NOT NULL column but that one; WriteSnapshot still
// confirms each skipped item's account is missing. Answers whether the item
// was stored.
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

// Binds one reading to kUpdateLatestSql's or kInsertLatestSql's parameters
// (the same but for as_of: ?4 there, ?13 here).
absl::Status BindLatest(db::Statement& write, int64_t snapshot_id, int64_t taken_at,
                        int64_t item_id, const std::string& account_id, const std::string& asset_id,
                        const v1::BalanceItem& item) {
  write.Reset();
  RETURN_IF_ERROR(write.Bind(1, account_id));
  RETURN_IF_ERROR(write.Bind(2, asset_id));
  RETURN_IF_ERROR(write.Bind(3, item_id));
  RETURN_IF_ERROR(write.Bind(4, taken_at));
  if (item.has_error()) {
    RETURN_IF_ERROR(write.Bind(5, static_cast<int64_t>(item.error().code())));
    RETURN_IF_ERROR(write.Bind(6, item.error().message()));
    RETURN_IF_ERROR(write.Bind(7, item.error().upstream()));
    return absl::OkStatus();
  }  // else ?5-?7 stay NULL: the reading succeeded; ?8-?12 too: no value.
  RETURN_IF_ERROR(write.Bind(8, item_id));
  RETURN_IF_ERROR(write.Bind(9, snapshot_id));
  RETURN_IF_ERROR(write.Bind(10, item.amount().units()));
  RETURN_IF_ERROR(write.Bind(11, static_cast<int64_t>(item.amount().decimals())));
  if (item.has_block_number()) {
    RETURN_IF_ERROR(write.Bind(12, static_cast<int64_t>(item.block_number())));
  }
  return absl::OkStatus();
}

absl::Status UpdateLatest(db::WriteContext& tx, db::Statement& update, db::Statement& insert,
                          int64_t snapshot_id, int64_t taken_at, int64_t item_id,
                          const std::string& account_id, const std::string& asset_id,
                          const v1::BalanceItem& item) {
  RETURN_IF_ERROR(BindLatest(update, snapshot_id, taken_at, item_id, account_id, asset_id, item));
  RETURN_IF_ERROR(update.Run());
  if (tx.connection().Changes() > 0) return absl::OkStatus();
  RETURN_IF_ERROR(BindLatest(insert, snapshot_id, taken_at, item_id, account_id, asset_id, item));
  if (item.has_amount()) RETURN_IF_ERROR(insert.Bind(13, taken_at));
  return insert.Run();
}

}  // namespace

absl::StatusOr<PreparedSnapshot> PrepareSnapshot(const v1::WriteSnapshotRequest& request) {
  PreparedSnapshot prepared;
  prepared.request = &request;
  RETURN_IF_ERROR(ValidateIdempotencyKey(request.idempotency_key()));
  if (static_cast<size_t>(request.items_size()) > kMaxSnapshotItems) {
    return absl::ResourceExhaustedError(
        absl::StrCat("items: ", request.items_size(), " items, at most ", kMaxSnapshotItems));
  }
  if (request.has_taken_at()) {
    ASSIGN_OR_RETURN(prepared.taken_at, ToNanos(request.taken_at(), "taken_at"));
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

  const int item_count = request.items_size();
  std::vector<ValidItem>& items = prepared.items;
  items.reserve(item_count);
  // Reserved so that ParsedIds' views into them stay valid (see ParsedIds).
  prepared.account_ids.reserve(item_count);
  prepared.asset_ids.reserve(item_count);
  ParsedIds ids;
  // The first item of each (account, asset), by their indexes.
  absl::flat_hash_map<uint64_t, int> seen;
  seen.reserve(item_count);
  for (int i = 0; i < item_count; ++i) {
    ValidItem& valid = items.emplace_back();
    RETURN_IF_ERROR(ValidateItem(request.items(i), i, ids, prepared, valid));
    auto [it, inserted] =
        seen.emplace((static_cast<uint64_t>(valid.account) << 32) | valid.asset, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "items[", i, "]: account ", prepared.account_ids[valid.account], " and asset ",
          prepared.asset_ids[valid.asset], " also in items[", it->second, "]"));
    }
  }
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
  const std::string& hash = prepared.content_hash;
  const int64_t now_nanos = absl::ToUnixNanos(now);
  const int64_t taken_at = prepared.taken_at.value_or(now_nanos);

  {
    ASSIGN_OR_RETURN(
        db::CachedStatement select,
        tx.Prepare("SELECT snapshot_id, content_hash FROM snapshots WHERE idempotency_key = ?1"));
    RETURN_IF_ERROR(select->Bind(1, request.idempotency_key()));
    ASSIGN_OR_RETURN(bool exists, select->Step());
    if (exists) {
      const int64_t snapshot_id = select->ColumnInt64(0);
      const std::string stored(select->ColumnBlob(1));
      select->Reset();
      bool same = stored == hash;
      if (!same) {
        // Written before content hashes took their sizes (Canonical)?
        ASSIGN_OR_RETURN(const std::string legacy, ContentHash(request, /*legacy=*/true));
        same = stored == legacy;
      }
      if (!same) {
        return absl::AlreadyExistsError(
            absl::StrCat("idempotency_key: ", Quoted(request.idempotency_key()),
                         " was written with other content (snapshot ", snapshot_id, ")"));
      }
      response->Clear();
      response->set_already_written(true);
      return LoadSnapshot(tx.connection(), snapshot_id, response->mutable_snapshot());
    }
  }

  // An empty fence (set but with every field default) counts as none.
  const v1::Fence& fence = request.fence();
  if (!fence.lease_name().empty() || !fence.holder_id().empty() || fence.epoch() != 0) {
    RETURN_IF_ERROR(CheckFence(tx, fence, now));
  }

  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO snapshots (idempotency_key, content_hash, taken_at, written_at, "
                 "run_id) VALUES (?1, ?2, ?3, ?4, ?5)"));
  RETURN_IF_ERROR(insert->Bind(1, request.idempotency_key()));
  RETURN_IF_ERROR(insert->Bind(2, db::Blob{hash}));
  RETURN_IF_ERROR(insert->Bind(3, taken_at));
  RETURN_IF_ERROR(insert->Bind(4, now_nanos));
  RETURN_IF_ERROR(insert->Bind(5, request.run_id()));
  RETURN_IF_ERROR(insert->Run());
  const int64_t snapshot_id = tx.connection().LastInsertRowId();

  for (const auto& [chain_id, block] : prepared.blocks) {
    ASSIGN_OR_RETURN(db::CachedStatement insert_block,
                     tx.Prepare("INSERT INTO snapshot_blocks (snapshot_id, chain_id, number, "
                                "hash, block_time) VALUES (?1, ?2, ?3, ?4, ?5)"));
    RETURN_IF_ERROR(insert_block->Bind(1, snapshot_id));
    RETURN_IF_ERROR(insert_block->Bind(2, chain_id));
    RETURN_IF_ERROR(insert_block->Bind(3, static_cast<int64_t>(block->number())));
    RETURN_IF_ERROR(insert_block->Bind(4, block->hash()));
    std::optional<int64_t> block_time;
    if (block->has_time()) {
      ASSIGN_OR_RETURN(block_time, ToNanos(block->time(), "time"));
    }
    RETURN_IF_ERROR(BindOptional(*insert_block, 5, block_time));
    RETURN_IF_ERROR(insert_block->Run());
  }

  int64_t stored = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
  {
    // Taken from the connection's cache once per snapshot rather than once
    // per item (a lookup by the SQL's text, copied and hashed each time).
    ASSIGN_OR_RETURN(db::CachedStatement insert_item, tx.Prepare(kInsertItemSql));
    ASSIGN_OR_RETURN(db::CachedStatement update_latest, tx.Prepare(kUpdateLatestSql));
    ASSIGN_OR_RETURN(db::CachedStatement insert_latest, tx.Prepare(kInsertLatestSql));
    for (const ValidItem& valid : prepared.items) {
      const std::string& account_id = prepared.account_ids[valid.account];
      const std::string& asset_id = prepared.asset_ids[valid.asset];
      ASSIGN_OR_RETURN(const bool inserted, InsertItem(tx, *insert_item, snapshot_id, taken_at,
                                                       account_id, asset_id, valid));
      if (!inserted) {
        // Only a missing account may skip an item (see InsertItem).
        ASSIGN_OR_RETURN(const bool registered, IsRegistered(tx, account_id));
        if (registered) {
          return absl::InternalError(
              absl::StrCat("item of ", account_id, " and ", asset_id, " was not stored"));
        }
        ++skipped;
        continue;
      }
      const int64_t item_id = tx.connection().LastInsertRowId();
      RETURN_IF_ERROR(UpdateLatest(tx, *update_latest, *insert_latest, snapshot_id, taken_at,
                                   item_id, account_id, asset_id, *valid.item));
      ++stored;
      if (valid.item->has_error()) ++failed;
    }
  }

  ASSIGN_OR_RETURN(db::CachedStatement counts,
                   tx.Prepare("UPDATE snapshots SET items = ?2, failed_items = ?3, "
                              "skipped_items = ?4 WHERE snapshot_id = ?1"));
  RETURN_IF_ERROR(counts->Bind(1, snapshot_id));
  RETURN_IF_ERROR(counts->Bind(2, stored));
  RETURN_IF_ERROR(counts->Bind(3, failed));
  RETURN_IF_ERROR(counts->Bind(4, skipped));
  RETURN_IF_ERROR(counts->Run());
  RETURN_IF_ERROR(AddToAccountHistory(tx, snapshot_id, stored));

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
