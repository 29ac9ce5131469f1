// Balance snapshots in the database (Storage.WriteSnapshot,
// GetLatestBalances), as protos/coffer/v1/storage.proto documents them. Each
// function is the work of one db::ConnectionPool Write or Read and runs on the
// pool's thread:
//
//   pool->Write(
//       [&request, response](db::WriteContext& tx) {
//         return WriteSnapshot(tx, request, response, absl::Now());
//       },
//       std::move(done));
//
// A returned error undoes everything the call wrote (the pool rolls its
// savepoint back); the response is then meaningless.
#ifndef COFFER_SERVICES_STORAGE_REPOS_SNAPSHOTS_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_SNAPSHOTS_REPO_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/snapshot_items_writer.h"
#include "services/storage/repos/snapshot_parts_repo.h"

namespace coffer::storage {

// Most account or asset ids one GetLatestBalances filters on.
inline constexpr size_t kMaxLatestBalanceIds = 1000;
// GetLatestBalances pages: default and most balances per page.
inline constexpr int32_t kDefaultLatestBalancesPageSize = 100;
inline constexpr int32_t kMaxLatestBalancesPageSize = 1000;

// Writes one snapshot in the caller's transaction. `now` is storage's clock
// (written_at, taken_at when unset, lease expiry).
//
// * INVALID_ARGUMENT naming the field and item for a malformed request: the
//   idempotency key (1 to 128 printable ASCII characters), blocks (valid
//   CAIP-2 chain, at most one per chain), items (valid CAIP-10 account and
//   CAIP-19 asset of the account's chain, each pair at most once, exactly
//   one of amount (a uint256 in decimal, decimals 0 to 255) or error (code
//   1 to 16)), parts (at most kMaxSnapshotParts). RESOURCE_EXHAUSTED past
//   kMaxSnapshotItems.
// * Idempotency: the content hash is SHA-256 over the deterministic
//   serialization of the request without its key and fence. The same key
//   with the same hash answers the stored snapshot with already_written =
//   true and writes nothing (checked before the fence, so a writer that
//   lost its lease after committing can still learn its write landed); the
//   same key with another hash is ALREADY_EXISTS.
// * Fence: when set, every field is required (INVALID_ARGUMENT) and the
//   lease it names must exist, be held by its holder at its epoch and not
//   have expired at `now`; otherwise FAILED_PRECONDITION. Unset or empty
//   (every field default): unchecked.
// * Items of accounts that are not registered are skipped and counted.
// * latest_balances is kept per (account, asset): the latest reading by
//   taken_at (value or error) and the latest successful value, which a
//   failed reading never replaces.
// * Parts (parts = N > 0; snapshot_parts_repo.h): commits the open snapshot
//   of the key, whose parts must be exactly 0 to N - 1 (FAILED_PRECONDITION
//   naming the first missing one, or one beyond, which would be dropped; no
//   snapshot under the key: "part 0 was never written"). taken_at is
//   required and must be the parts' (INVALID_ARGUMENT); an (account, asset)
//   of a part again here is INVALID_ARGUMENT; RESOURCE_EXHAUSTED past
//   kMaxSnapshotItems given across the parts and the request. Only now do
//   latest_balances and the account history take the snapshot's items, all
//   read back from snapshot_items; items and failed_items count what is
//   stored, skipped_items adds up the parts' and the request's. The
//   snapshot's content hash is SHA-256 over the request's hash, then each
//   part's in part order: a retry of the commit recomputes it from the
//   stored parts. parts = 0 under a key whose parts are written and not
//   committed is FAILED_PRECONDITION (they would be dropped).
[[nodiscard]] absl::Status WriteSnapshot(db::WriteContext& tx,
                                         const v1::WriteSnapshotRequest& request,
                                         v1::WriteSnapshotResponse* response, absl::Time now);

// WriteSnapshot in two halves, so that the CPU-bound one (validation,
// normalization, EIP-55 checksums, the content hash: about a fifth of a
// snapshot's cost) runs off the single writer thread, in parallel with
// other snapshots' writes:
//
//   ASSIGN_OR_RETURN(PreparedSnapshot prepared, PrepareSnapshot(request));  // any thread
//   pool->Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, prepared, ...); }, ...);
//
// A PreparedSnapshot refers to its request, which must outlive it.
// PrepareSnapshot remembers the account ids it parsed, process-wide (up to
// kMaxSnapshotItems of them, ~30 MB), so that the next snapshot of the same
// accounts does not check their EIP-55 checksums again.
struct PreparedSnapshot {
  const v1::WriteSnapshotRequest* request = nullptr;
  // Unset: storage's clock at the write.
  std::optional<int64_t> taken_at;
  // Normalized CAIP-2 chain and the request's block.
  std::vector<std::pair<std::string, const v1::BlockRef*>> blocks;
  PreparedItems items;
  // Of the request alone: with parts, the snapshot's is this and its parts'
  // (WriteSnapshot).
  std::string content_hash;
};

// WriteSnapshot's checks on the request alone, with the same errors.
[[nodiscard]] absl::StatusOr<PreparedSnapshot> PrepareSnapshot(
    const v1::WriteSnapshotRequest& request);

[[nodiscard]] absl::Status WriteSnapshot(db::WriteContext& tx, const PreparedSnapshot& prepared,
                                         v1::WriteSnapshotResponse* response, absl::Time now);

// One page of latest balances ordered by (account_id, asset_id), filtered as
// the request says. `now` gives the age of each amount. INVALID_ARGUMENT for
// a malformed filter, a negative page size or a page token not given for the
// same filters; RESOURCE_EXHAUSTED past kMaxLatestBalanceIds ids. With
// quote_currency, each amount is valued at the latest stored price of its
// asset in that currency (valuation.h); value and price stay unset for an
// asset without one.
//
// A page is one query driven by an index (named ids through latest_balances'
// key, tags through account_tags_by_tag, chain through accounts_by_chain,
// else accounts' key), read only as far as the page goes, so its cost
// follows the page size rather than the number of accounts or of stored
// items. Named ids are probed 64 at a time; asset_ids are checked on the
// rows read, so a page of a rarely held asset reads further.
[[nodiscard]] absl::Status GetLatestBalances(db::ReadContext& tx,
                                             const v1::GetLatestBalancesRequest& request,
                                             v1::GetLatestBalancesResponse* response,
                                             absl::Time now);

// The EXPLAIN QUERY PLAN detail lines of the query GetLatestBalances runs for
// `request`'s filters: what tests check to keep every filter shape indexed.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ExplainLatestBalances(
    db::ReadContext& tx, const v1::GetLatestBalancesRequest& request);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_SNAPSHOTS_REPO_H_
