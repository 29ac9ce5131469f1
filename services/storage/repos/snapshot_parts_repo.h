// Snapshots written in parts (Storage.WriteSnapshotPart), as
// protos/coffer/v1/storage.proto documents them: a refresh hands its items
// over while it still reads the rest, and WriteSnapshot with parts = N
// (snapshots_repo.h) commits them. A part's items go straight into
// snapshot_items under the one snapshot row of its idempotency key, which
// stays open (snapshots.open_since set: every reader skips it) until the
// commit; each part has its row in snapshot_parts (content hash, counts).
// Parts never touch latest_balances or the account history: the commit
// does, for all of the snapshot's items at once.
//
//   // Any thread (CPU-bound: validation, EIP-55 checksums, the hash):
//   ASSIGN_OR_RETURN(PreparedSnapshotPart prepared, PrepareSnapshotPart(request));
//   // The writer:
//   pool->Write([&](db::WriteContext& tx) {
//     return WriteSnapshotPart(tx, prepared, response, absl::Now());
//   }, std::move(done));
//
// A returned error undoes everything the call wrote (the pool rolls its
// savepoint back); the response is then meaningless.
#ifndef COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_PARTS_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_PARTS_REPO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/snapshot_items_writer.h"

namespace coffer::storage {

// Parts one snapshot may have: numbered 0 to kMaxSnapshotParts - 1.
inline constexpr uint32_t kMaxSnapshotParts = 10000;

// A part checked off the writer thread. Refers to its request, which must
// outlive it.
struct PreparedSnapshotPart {
  const v1::WriteSnapshotPartRequest* request = nullptr;
  int64_t taken_at = 0;
  PreparedItems items;
  // SHA-256 over the deterministic serialization of the request without its
  // fence (which says who writes it, not what).
  std::string content_hash;
};

// WriteSnapshotPart's checks on the request alone: INVALID_ARGUMENT for a
// malformed idempotency key (as WriteSnapshot's), a part past
// kMaxSnapshotParts - 1, a missing or out-of-range taken_at, no items, or
// a malformed item (named as WriteSnapshot names it; an (account, asset)
// at most once); RESOURCE_EXHAUSTED past kMaxSnapshotItems items.
[[nodiscard]] absl::StatusOr<PreparedSnapshotPart> PrepareSnapshotPart(
    const v1::WriteSnapshotPartRequest& request);

// Stores one part in the caller's transaction; `now` is storage's clock
// (open_since and written_at of a snapshot its first part opens, lease
// expiry).
//
// * Idempotency, before the fence (so that a writer that lost its lease can
//   still learn its part landed): a part stored before under the key, open
//   or committed, answers its stored counts with already_written = true and
//   writes nothing when its content hash is the same, else ALREADY_EXISTS;
//   a key committed without this part is ALREADY_EXISTS.
// * Fence: as WriteSnapshot's (FAILED_PRECONDITION).
// * The first part of a key opens its snapshot; a later one must carry the
//   same taken_at (INVALID_ARGUMENT), and the snapshot's parts hold at most
//   kMaxSnapshotItems items given (RESOURCE_EXHAUSTED).
// * Items of accounts that are not registered are skipped and counted; an
//   (account, asset) already in another part is INVALID_ARGUMENT naming
//   the item.
[[nodiscard]] absl::Status WriteSnapshotPart(db::WriteContext& tx,
                                             const PreparedSnapshotPart& prepared,
                                             v1::WriteSnapshotPartResponse* response,
                                             absl::Time now);

// PrepareSnapshotPart then WriteSnapshotPart, both on the calling thread.
[[nodiscard]] absl::Status WriteSnapshotPart(db::WriteContext& tx,
                                             const v1::WriteSnapshotPartRequest& request,
                                             v1::WriteSnapshotPartResponse* response,
                                             absl::Time now);

// The snapshot row of an idempotency key: what both writes look up first.
struct SnapshotOfKey {
  int64_t snapshot_id = 0;
  // Empty while open.
  std::string content_hash;
  // Its parts are written, its commit is not (open_since is set).
  bool open = false;
  int64_t taken_at = 0;
};

// The snapshot of `key`, open or committed; nullopt when there is none.
[[nodiscard]] absl::StatusOr<std::optional<SnapshotOfKey>> FindSnapshotOfKey(db::WriteContext& tx,
                                                                             absl::string_view key);

// What the write committing a snapshot's parts (WriteSnapshot) needs of
// them.
struct StoredSnapshotParts {
  // Part numbers, ascending, and each one's content hash.
  std::vector<int64_t> parts;
  std::vector<std::string> content_hashes;
  // Items the parts carried (stored and skipped), and of them skipped.
  int64_t given_items = 0;
  int64_t skipped_items = 0;
};

// The parts stored for snapshot `snapshot_id`, open or committed.
[[nodiscard]] absl::StatusOr<StoredSnapshotParts> ReadSnapshotParts(db::WriteContext& tx,
                                                                    int64_t snapshot_id);

// FAILED_PRECONDITION unless `stored` is exactly parts 0 to `count` - 1:
// naming the first one missing, else the first one beyond (its items would
// be dropped). `key` is the snapshot's idempotency key, for the message.
[[nodiscard]] absl::Status CheckPartsComplete(const StoredSnapshotParts& stored, uint32_t count,
                                              absl::string_view key);

// A snapshot's content hash with parts: SHA-256 over the committing
// request's own hash, then each part's in part order.
[[nodiscard]] absl::StatusOr<std::string> CommittedContentHash(absl::string_view request_hash,
                                                               const StoredSnapshotParts& stored);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_PARTS_REPO_H_
