// Reading written snapshots back (Storage.ListSnapshots, GetSnapshot), as
// protos/coffer/v1/storage.proto documents them, and the Snapshot summary
// that WriteSnapshot answers too. Each Get/List function is the work of one
// db::ConnectionPool Read and runs on the pool's thread:
//
//   pool->Read(
//       [&request, response](db::ReadContext& tx) {
//         return GetSnapshot(tx, request, response);
//       },
//       std::move(done));
//
// A snapshot's id is its snapshots row id in decimal ("42"): short, and
// ordered as the snapshots were written.
#ifndef COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_READS_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_READS_REPO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// ListSnapshots pages: default and most snapshots per page.
inline constexpr int32_t kDefaultSnapshotsPageSize = 100;
inline constexpr int32_t kMaxSnapshotsPageSize = 1000;
// GetSnapshot pages of items: default and most items per page.
inline constexpr int32_t kDefaultSnapshotItemsPageSize = 1000;
inline constexpr int32_t kMaxSnapshotItemsPageSize = 10000;

// Snapshot.snapshot_id of the snapshots row `row_id`.
std::string SnapshotIdText(int64_t row_id);

// The snapshots row id a Snapshot.snapshot_id names: the canonical decimal
// form of a positive integer, as SnapshotIdText writes it. INVALID_ARGUMENT
// naming `field` otherwise.
[[nodiscard]] absl::StatusOr<int64_t> ParseSnapshotId(absl::string_view text,
                                                      absl::string_view field);

// Fills `snapshot` from the snapshots row `row_id` and its blocks (ordered by
// chain_id). NOT_FOUND naming the id when there is no such row or it is
// open (written in parts, not committed yet). Takes the connection so both a
// write (WriteSnapshot's answer, once committed) and a read can use it.
[[nodiscard]] absl::Status LoadSnapshot(db::Connection& connection, int64_t row_id,
                                        v1::Snapshot* snapshot);

// One page of snapshot summaries whose taken_at lies in [start_time,
// end_time) (an unset bound is open), newest taken_at first (then newest
// id), open snapshots left out. INVALID_ARGUMENT for an out-of-range time,
// a negative page size or a page token not given for the same range.
[[nodiscard]] absl::Status ListSnapshots(db::ReadContext& tx,
                                         const v1::ListSnapshotsRequest& request,
                                         v1::ListSnapshotsResponse* response);

// One snapshot and one page of its items (all, or with failed_only those
// that failed) ordered by account_id then asset_id, each as it was stored:
// amount or error, block, source, fetched_at, unconfirmed sums.
// INVALID_ARGUMENT for a missing or malformed snapshot_id, a negative page
// size or a page token not given for the same snapshot and failed_only;
// NOT_FOUND for an unknown snapshot or an open one.
[[nodiscard]] absl::Status GetSnapshot(db::ReadContext& tx, const v1::GetSnapshotRequest& request,
                                       v1::GetSnapshotResponse* response);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_SNAPSHOT_READS_REPO_H_
