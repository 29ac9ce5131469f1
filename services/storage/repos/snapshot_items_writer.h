// What writing a snapshot's items takes, whether the snapshot comes whole
// (WriteSnapshot, snapshots_repo.h) or in parts (WriteSnapshotPart,
// snapshot_parts_repo.h): checking and normalizing items off the writer
// thread, storing them, and keeping latest_balances. Internal to those two
// repositories; the RPCs' rules are documented there.
//
//   // Any thread:
//   PreparedItems items;
//   RETURN_IF_ERROR(PrepareItems(request.items(), items));
//   // The writer, in the write's transaction:
//   ASSIGN_OR_RETURN(SnapshotItemCounts counts,
//                    InsertSnapshotItems(tx, snapshot_id, taken_at, items,
//                                        LatestBalances::kUpdate));
//
// A part leaves latest_balances alone (LatestBalances::kLeave); the write
// committing the parts then takes every stored item of the snapshot into it
// at once (UpdateLatestFromStoredItems).
#ifndef COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_ITEMS_WRITER_H_
#define COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_ITEMS_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/message_lite.h"
#include "google/protobuf/repeated_ptr_field.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/digest.h"

namespace coffer::storage {

// Most items one snapshot takes: one WriteSnapshot, one part, or a
// snapshot's parts and its committing write together.
inline constexpr size_t kMaxSnapshotItems = 100000;

// INVALID_ARGUMENT naming idempotency_key unless it is 1 to 128 printable
// ASCII characters.
[[nodiscard]] absl::Status ValidateIdempotencyKey(absl::string_view key);

// The deterministic serialization of `message`, what content hashes digest.
// `legacy`: without computing the sizes first, as content hashes were until
// 2026-11-27: a fresh copy's cached sizes are 0, so every submessage's length
// prefix read 0. That still told contents apart in practice but not
// unambiguously (a submessage's end was lost); it is kept only to recognize
// a retry of a write stored then.
std::string CanonicalBytes(const google::protobuf::MessageLite& message, bool legacy = false);

// SHA-256 over CanonicalBytes of a copy of `request` from which `clear`
// removed what says who writes it rather than what (its fence, ...). The
// copy is on an arena: one block freed at once rather than every item's
// strings one by one.
template <typename Request, typename Clear>
absl::StatusOr<std::string> ContentDigest(const Request& request, Clear clear,
                                          bool legacy = false) {
  google::protobuf::Arena arena;
  auto* content = google::protobuf::Arena::CreateMessage<Request>(&arena);
  *content = request;
  clear(*content);
  return Sha256(CanonicalBytes(*content, legacy));
}

// CheckFence (fence.h) unless `fence` is unset or empty (every field
// default), which counts as no fence.
[[nodiscard]] absl::Status CheckFenceIfSet(db::WriteContext& tx, const v1::Fence& fence,
                                           absl::Time now);

// A request's items, validated, their ids normalized.
struct PreparedItems {
  struct Item {
    const v1::BalanceItem* item = nullptr;
    // Indexes into account_ids and asset_ids.
    uint32_t account = 0;
    uint32_t asset = 0;
    std::optional<int64_t> fetched_at;
    std::optional<int64_t> retry_after;
  };
  // The items' normalized ids, each once: a snapshot names each account
  // once per asset and each asset once per account.
  std::vector<std::string> account_ids;
  std::vector<std::string> asset_ids;
  // One per item of the request, in its order (list[i] is items[i]).
  std::vector<Item> list;
};

// Checks `items` (at most kMaxSnapshotItems, else RESOURCE_EXHAUSTED) into
// `prepared`, which must be empty: INVALID_ARGUMENT naming the first
// malformed item ("items[2].asset_id: ...") or the second of a pair naming
// one (account, asset) twice. Remembers the account ids it parsed,
// process-wide (up to kMaxSnapshotItems of them, ~30 MB), so that the next
// snapshot of the same accounts does not check their EIP-55 checksums again.
// `prepared` refers to `items`, which must outlive it. Thread-safe.
[[nodiscard]] absl::Status PrepareItems(
    const google::protobuf::RepeatedPtrField<v1::BalanceItem>& items, PreparedItems& prepared);

// What InsertSnapshotItems (or UpdateLatestFromStoredItems) counted.
struct SnapshotItemCounts {
  // Items stored, of which failed.
  int64_t stored = 0;
  int64_t failed = 0;
  // Items not stored: their account is not registered.
  int64_t skipped = 0;
};

// Whether InsertSnapshotItems keeps latest_balances item by item.
enum class LatestBalances { kUpdate, kLeave };

// Stores `items` in snapshot `snapshot_id` with the snapshot's `taken_at`,
// skipping (and counting) those of accounts that are not registered. With
// kUpdate, each item stored also updates its latest_balances row: the
// latest reading by taken_at (value or error) and the latest successful
// value, which a failed reading never replaces. INVALID_ARGUMENT naming the
// item when its (account, asset) is in the snapshot already (another of
// its parts).
[[nodiscard]] absl::StatusOr<SnapshotItemCounts> InsertSnapshotItems(db::WriteContext& tx,
                                                                     int64_t snapshot_id,
                                                                     int64_t taken_at,
                                                                     const PreparedItems& items,
                                                                     LatestBalances latest);

// Updates latest_balances from every item stored in snapshot `snapshot_id`
// (taken at `taken_at`), as InsertSnapshotItems' kUpdate does item by item;
// counts them (skipped stays 0).
[[nodiscard]] absl::StatusOr<SnapshotItemCounts> UpdateLatestFromStoredItems(db::WriteContext& tx,
                                                                             int64_t snapshot_id,
                                                                             int64_t taken_at);

// A stored time (unix nanoseconds) as error messages show it.
std::string TimeText(int64_t unix_nanos);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_ITEMS_WRITER_H_
