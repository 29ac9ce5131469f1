// Retention in the database (Storage.Prune), as protos/coffer/v1/storage.proto
// documents it: deletes old snapshots and prices, never what latest balances
// still need, in small transactions so other writes are never held up for
// long. A prune is a chain of chunks, each the work of its own
// db::ConnectionPool Write on the writer thread, with the progress carried
// from one to the next; services/storage/prune_runner.h chains them:
//
//   PruneProgress progress;  // lives across the chunks
//   pool->Write(
//       [&](db::WriteContext& tx) {
//         return PruneChunk(tx, request, limits, progress, &chunk_counts, absl::Now());
//       },
//       [&](absl::Status status) { /* add chunk_counts; if !progress.finished, next chunk */ });
//
// A returned error undoes everything the chunk deleted (the earlier chunks
// stay committed); the chunk's counts and the progress are then meaningless.
#ifndef COFFER_SERVICES_STORAGE_REPOS_RETENTION_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_RETENTION_REPO_H_

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// How much one chunk may do.
struct PruneLimits {
  // Rows one chunk deletes, about: snapshot items, snapshots and prices each
  // count one (a snapshot's blocks go with it uncounted), and a snapshot
  // visited without being deleted also counts one, so a chunk's work stays
  // bounded when little is deletable. Values below 1 count as 1.
  int64_t max_deleted_rows = 5000;
};

// Where a prune stands between chunks. Start every prune with a
// default-constructed one and hand the same object to each of its chunks;
// its fields are PruneChunk's business. The cutoffs are fixed by the first
// chunk (from its `now` and the policy), so the set being pruned does not
// move while the chunks run; the cursors make every chunk start where the
// previous one stopped instead of rescanning what it kept.
struct PruneProgress {
  bool started = false;
  bool snapshots_done = false;
  bool prices_done = false;

  // Snapshots before (taken_at, snapshot_id) are past the limits.
  int64_t snapshot_bound_taken_at = 0;
  int64_t snapshot_bound_id = std::numeric_limits<int64_t>::min();
  // Prices before this (unix nanoseconds) are past the limit.
  int64_t price_cutoff = 0;

  // Every snapshot up to and including (taken_at, snapshot_id) is finished:
  // its deletable items are gone, its kept ones counted, and it is deleted
  // if nothing was kept.
  int64_t snapshot_cursor_taken_at = std::numeric_limits<int64_t>::min();
  int64_t snapshot_cursor_id = std::numeric_limits<int64_t>::min();
  // Every price up to and including this key is finished. Asset ids are
  // never empty, so ("", "", min) is before every price.
  std::string price_cursor_asset_id;
  std::string price_cursor_quote_currency;
  int64_t price_cursor_time = std::numeric_limits<int64_t>::min();

  // True once nothing remains: stop calling PruneChunk.
  bool finished() const { return started && snapshots_done && prices_done; }
};

// Runs one chunk of request.retention in the caller's transaction and ADDS
// what it deleted to `response`'s counts (never clearing them; duration is
// left to the caller, who sees the whole run). `now` is storage's clock at
// this chunk.
//
// * Every chunk validates the request and checks the fence at its own `now`,
//   so a scheduler that lost its lease mid-prune is stopped at the next
//   chunk: INVALID_ARGUMENT when no limit is set or a max age is out of
//   range; a partly set fence is INVALID_ARGUMENT and a fence whose lease is
//   not held by it FAILED_PRECONDITION (CheckFence); an empty fence is
//   unchecked.
// * A snapshot is past the limits when it is older than snapshot_max_age
//   (taken_at < now - max_age) or not among the snapshot_keep_last newest
//   (by taken_at, then snapshot_id), judged at the first chunk's `now`. Its
//   items are deleted except those latest_balances references
//   (last_item_id, value_item_id), which are kept and counted in items_kept
//   once, by the chunk that finishes their snapshot; the snapshot row, with
//   its blocks, is deleted only when none of its items remain. Snapshots are
//   taken oldest first, each one's items before the snapshot itself. Open
//   snapshots (written in parts, not committed yet) are no snapshots here:
//   never pruned, counted or among the keep_last newest (the writer's idle
//   work deletes abandoned ones, abandoned_snapshots.h).
// * Then prices: a price is past the limit when older than price_max_age
//   (price_time < now - max_age, the first chunk's `now`) and not the latest
//   of its (asset_id, quote_currency); taken in key order.
// * dry_run answers in one chunk the counts a whole prune would, deletes
//   nothing and finishes the progress.
//
// Every statement is set-based or bounded by limits.max_deleted_rows: the
// snapshots come from their taken_at index after the cursor, each one's
// items through the snapshot key, references through latest_balances' item
// indexes, and prices from the prices key after the cursor.
[[nodiscard]] absl::Status PruneChunk(db::WriteContext& tx, const v1::PruneRequest& request,
                                      const PruneLimits& limits, PruneProgress& progress,
                                      v1::PruneResponse* response, absl::Time now);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_RETENTION_REPO_H_
