// Storage.Prune as protos/coffer/v1/storage.proto promises it: "deletes in
// small transactions, so other writes are never held up for long". A prune
// runs as a chain of pool Writes, one bounded chunk each
// (repos/retention_repo.h), the next submitted from the previous one's done
// callback, so writes queued meanwhile commit between two chunks instead of
// waiting for the whole prune.
//
//   RunPrune(pool, request, reply, std::move(rpc_done));
//
// Ownership: `request` and `response` must outlive `done`; the run itself
// holds a reference to the pool until it ends. The pool must not be
// destroyed on one of its own threads, so the caller keeps its own
// reference alive or shuts the pool down (as Database does) before letting
// go: a shutdown ends a run between chunks with UNAVAILABLE.
#ifndef COFFER_SERVICES_STORAGE_PRUNE_RUNNER_H_
#define COFFER_SERVICES_STORAGE_PRUNE_RUNNER_H_

#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/retention_repo.h"

namespace coffer::storage {

// Prunes as `request` asks, at most `limits` per transaction, until nothing
// remains or a chunk fails, then calls `done` exactly once.
//
// * Counts are added to *response chunk by chunk, each only once its chunk
//   committed: after a failure they say what the committed chunks deleted.
//   duration is set to the wall time of the whole run, failed or not.
// * Every chunk checks the request and the fence again (a scheduler that lost
//   its lease mid-prune is stopped by the next chunk's FAILED_PRECONDITION);
//   the cutoffs are fixed by the first chunk, at its storage clock reading.
// * dry_run is one chunk that only counts.
//
// Threads: returns at once, without touching the database. Chunks and `done`
// run on the pool's writer thread; `done` runs on the calling thread instead
// when the pool refuses the first chunk (shutting down). `done` should hand
// off and return, as it delays the writer's next batch.
void RunPrune(std::shared_ptr<db::ConnectionPool> pool, const v1::PruneRequest& request,
              v1::PruneResponse* response, absl::AnyInvocable<void(absl::Status)> done,
              PruneLimits limits = {});

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_PRUNE_RUNNER_H_
