#include "services/storage/repos/snapshots_repo.h"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
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

// Deterministic serialization of `message`.
std::string Canonical(const google::protobuf::MessageLite& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  return bytes;
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

absl::Status ValidateAmount(const v1::Amount& amount, absl::string_view field) {
  absl::Status status = chain::ValidateBalance(amount.units(), amount.decimals());
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": ", status.message()));
  return absl::OkStatus();
}

using ValidItem = PreparedSnapshot::Item;

// Parsed ids of one snapshot, by their spelling in the request: a snapshot
// names each account once per asset and each asset once per account, and
// parsing an EVM id checks its EIP-55 checksum (a Keccak-256 each time).
struct ParsedIds {
  std::map<std::string, chain::AccountId, std::less<>> accounts;
  std::map<std::string, chain::AssetId, std::less<>> assets;
};

absl::StatusOr<ValidItem> ValidateItem(const v1::BalanceItem& item, int index, ParsedIds& ids) {
  const std::string field = absl::StrCat("items[", index, "]");
  ValidItem valid;
  valid.item = &item;
  auto account = ids.accounts.find(item.account_id());
  if (account == ids.accounts.end()) {
    absl::StatusOr<chain::AccountId> parsed = chain::ParseAccountId(item.account_id());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".account_id: ", parsed.status().message()));
    }
    account = ids.accounts.emplace(item.account_id(), *std::move(parsed)).first;
  }
  auto asset = ids.assets.find(item.asset_id());
  if (asset == ids.assets.end()) {
    absl::StatusOr<chain::AssetId> parsed = chain::ParseAssetId(item.asset_id());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".asset_id: ", parsed.status().message()));
    }
    asset = ids.assets.emplace(item.asset_id(), *std::move(parsed)).first;
  }
  if (!(asset->second.chain == account->second.chain)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".asset_id: asset of chain ",
                                                   asset->second.chain.ToString(), ", account of ",
                                                   account->second.chain.ToString()));
  }
  valid.account_id = account->second.ToString();
  valid.asset_id = asset->second.ToString();
  switch (item.result_case()) {
    case v1::BalanceItem::kAmount:
      RETURN_IF_ERROR(ValidateAmount(item.amount(), absl::StrCat(field, ".amount")));
      break;
    case v1::BalanceItem::kError:
      if (item.error().code() < 1 || item.error().code() > 16) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".error.code: ", item.error().code(), " is not 1 to 16"));
      }
      if (item.error().has_retry_after()) {
        ASSIGN_OR_RETURN(
            valid.retry_after,
            DurationNanos(item.error().retry_after(), absl::StrCat(field, ".error.retry_after")));
      }
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": exactly one of amount or error is required"));
  }
  if (item.has_block_number() && item.block_number() > kMaxInt64) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".block_number: out of range"));
  }
  if (item.has_fetched_at()) {
    ASSIGN_OR_RETURN(valid.fetched_at,
                     ToNanos(item.fetched_at(), absl::StrCat(field, ".fetched_at")));
  }
  if (item.has_unconfirmed_incoming()) {
    RETURN_IF_ERROR(
        ValidateAmount(item.unconfirmed_incoming(), absl::StrCat(field, ".unconfirmed_incoming")));
  }
  if (item.has_unconfirmed_outgoing()) {
    RETURN_IF_ERROR(
        ValidateAmount(item.unconfirmed_outgoing(), absl::StrCat(field, ".unconfirmed_outgoing")));
  }
  return valid;
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

// Inserts one item of snapshot `snapshot_id`; answers its item_id.
absl::StatusOr<int64_t> InsertItem(db::WriteContext& tx, int64_t snapshot_id, int64_t taken_at,
                                   const ValidItem& valid) {
  const v1::BalanceItem& item = *valid.item;
  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO snapshot_items (snapshot_id, account_id, asset_id, taken_at, units, "
                 "decimals, error_code, error_message, error_upstream, error_retry_after_ns, "
                 "block_number, block_hash, source, fetched_at, unconfirmed_incoming_units, "
                 "unconfirmed_incoming_decimals, unconfirmed_outgoing_units, "
                 "unconfirmed_outgoing_decimals) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                 "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"));
  RETURN_IF_ERROR(insert->Bind(1, snapshot_id));
  RETURN_IF_ERROR(insert->Bind(2, valid.account_id));
  RETURN_IF_ERROR(insert->Bind(3, valid.asset_id));
  RETURN_IF_ERROR(insert->Bind(4, taken_at));
  if (item.has_amount()) {
    RETURN_IF_ERROR(insert->Bind(5, item.amount().units()));
    RETURN_IF_ERROR(insert->Bind(6, static_cast<int64_t>(item.amount().decimals())));
    for (int i = 7; i <= 10; ++i) RETURN_IF_ERROR(insert->BindNull(i));
  } else {
    RETURN_IF_ERROR(insert->BindNull(5));
    RETURN_IF_ERROR(insert->BindNull(6));
    RETURN_IF_ERROR(insert->Bind(7, static_cast<int64_t>(item.error().code())));
    RETURN_IF_ERROR(insert->Bind(8, item.error().message()));
    RETURN_IF_ERROR(insert->Bind(9, item.error().upstream()));
    RETURN_IF_ERROR(BindOptional(*insert, 10, valid.retry_after));
  }
  std::optional<int64_t> block_number;
  if (item.has_block_number()) block_number = static_cast<int64_t>(item.block_number());
  RETURN_IF_ERROR(BindOptional(*insert, 11, block_number));
  RETURN_IF_ERROR(insert->Bind(12, item.block_hash()));
  RETURN_IF_ERROR(insert->Bind(13, item.source()));
  RETURN_IF_ERROR(BindOptional(*insert, 14, valid.fetched_at));
  int index = 15;
  for (const v1::Amount* unconfirmed :
       {item.has_unconfirmed_incoming() ? &item.unconfirmed_incoming() : nullptr,
        item.has_unconfirmed_outgoing() ? &item.unconfirmed_outgoing() : nullptr}) {
    if (unconfirmed != nullptr) {
      RETURN_IF_ERROR(insert->Bind(index, unconfirmed->units()));
      RETURN_IF_ERROR(insert->Bind(index + 1, static_cast<int64_t>(unconfirmed->decimals())));
    } else {
      RETURN_IF_ERROR(insert->BindNull(index));
      RETURN_IF_ERROR(insert->BindNull(index + 1));
    }
    index += 2;
  }
  RETURN_IF_ERROR(insert->Run());
  return tx.connection().LastInsertRowId();
}

// Folds one stored item into latest_balances: it becomes the latest reading
// unless a later snapshot's reading is already there, and the latest value
// when it succeeded and no later value is there. A failed reading never
// touches the value.
//
// One statement per item, whatever changes: rewriting a latest_balances row
// (and its item-id indexes) is the costliest part of a snapshot write under
// SQLCipher, and doing it once instead of twice took a third off the
// writer's time per item (tools/bench/storage). Every statement shares one
// numbering: ?1 account, ?2 asset, ?3-?7 the latest reading, ?8-?13 the value.
//
// UPDATE OR FAIL, not the default OR ABORT: the two are the same for an
// update of one row (the CHECKs are tested before anything is written), but
// an UPDATE that may ABORT makes SQLite keep a statement journal, an
// encrypted copy of the page it changes under SQLCipher: a fifth of the
// writer's time per item (tools/bench/storage).
absl::Status UpdateLatest(db::WriteContext& tx, int64_t snapshot_id, int64_t taken_at,
                          int64_t item_id, const ValidItem& valid) {
  const v1::BalanceItem& item = *valid.item;
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT last_attempt_at, as_of FROM latest_balances "
                              "WHERE account_id = ?1 AND asset_id = ?2"));
  RETURN_IF_ERROR(select->Bind(1, valid.account_id));
  RETURN_IF_ERROR(select->Bind(2, valid.asset_id));
  ASSIGN_OR_RETURN(bool exists, select->Step());
  const bool newer_attempt = !exists || taken_at >= select->ColumnInt64(0);
  const bool newer_value = item.has_amount() && (!exists || select->ColumnIsNull(1) ||
                                                 taken_at >= select->ColumnInt64(1));
  select->Reset();
  if (!newer_attempt && !newer_value) return absl::OkStatus();

  constexpr char kAttempt[] =
      "last_item_id = ?3, last_attempt_at = ?4, error_code = ?5, error_message = ?6, "
      "error_upstream = ?7";
  constexpr char kValue[] =
      "value_item_id = ?8, value_snapshot_id = ?9, units = ?10, decimals = ?11, as_of = ?12, "
      "block_number = ?13";
  std::string sql;
  if (!exists) {
    sql =
        "INSERT INTO latest_balances (account_id, asset_id, last_item_id, last_attempt_at, "
        "error_code, error_message, error_upstream, value_item_id, value_snapshot_id, units, "
        "decimals, as_of, block_number) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
  } else {
    sql = absl::StrCat("UPDATE OR FAIL latest_balances SET ",
                       newer_attempt && newer_value ? absl::StrCat(kAttempt, ", ", kValue)
                       : newer_attempt              ? std::string(kAttempt)
                                                    : std::string(kValue),
                       " WHERE account_id = ?1 AND asset_id = ?2");
  }
  ASSIGN_OR_RETURN(db::CachedStatement write, tx.Prepare(sql));
  RETURN_IF_ERROR(write->Bind(1, valid.account_id));
  RETURN_IF_ERROR(write->Bind(2, valid.asset_id));
  if (newer_attempt) {
    RETURN_IF_ERROR(write->Bind(3, item_id));
    RETURN_IF_ERROR(write->Bind(4, taken_at));
    if (item.has_error()) {
      RETURN_IF_ERROR(write->Bind(5, static_cast<int64_t>(item.error().code())));
      RETURN_IF_ERROR(write->Bind(6, item.error().message()));
      RETURN_IF_ERROR(write->Bind(7, item.error().upstream()));
    }  // else ?5-?7 stay NULL: the latest reading succeeded.
  }
  if (newer_value) {
    RETURN_IF_ERROR(write->Bind(8, item_id));
    RETURN_IF_ERROR(write->Bind(9, snapshot_id));
    RETURN_IF_ERROR(write->Bind(10, item.amount().units()));
    RETURN_IF_ERROR(write->Bind(11, static_cast<int64_t>(item.amount().decimals())));
    RETURN_IF_ERROR(write->Bind(12, taken_at));
    std::optional<int64_t> block_number;
    if (item.has_block_number()) block_number = static_cast<int64_t>(item.block_number());
    RETURN_IF_ERROR(BindOptional(*write, 13, block_number));
  }  // else, for a new row, ?8-?13 stay NULL: no value known yet.
  return write->Run();
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

  std::vector<ValidItem>& items = prepared.items;
  items.reserve(request.items_size());
  std::map<std::pair<std::string, std::string>, int> seen;
  ParsedIds ids;
  for (int i = 0; i < request.items_size(); ++i) {
    ASSIGN_OR_RETURN(ValidItem valid, ValidateItem(request.items(i), i, ids));
    auto [it, inserted] = seen.emplace(std::make_pair(valid.account_id, valid.asset_id), i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("items[", i, "]: account ", valid.account_id,
                                                     " and asset ", valid.asset_id,
                                                     " also in items[", it->second, "]"));
    }
    items.push_back(std::move(valid));
  }

  v1::WriteSnapshotRequest content = request;
  content.clear_idempotency_key();
  content.clear_fence();
  ASSIGN_OR_RETURN(prepared.content_hash, Sha256(Canonical(content)));
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
      const bool same = select->ColumnBlob(1) == hash;
      select->Reset();
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
  std::map<std::string, bool> registered;
  for (const ValidItem& valid : prepared.items) {
    auto it = registered.find(valid.account_id);
    if (it == registered.end()) {
      ASSIGN_OR_RETURN(bool is_registered, IsRegistered(tx, valid.account_id));
      it = registered.emplace(valid.account_id, is_registered).first;
    }
    if (!it->second) {
      ++skipped;
      continue;
    }
    ASSIGN_OR_RETURN(int64_t item_id, InsertItem(tx, snapshot_id, taken_at, valid));
    RETURN_IF_ERROR(UpdateLatest(tx, snapshot_id, taken_at, item_id, valid));
    ++stored;
    if (valid.item->has_error()) ++failed;
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
