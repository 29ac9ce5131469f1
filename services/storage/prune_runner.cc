#include "services/storage/prune_runner.h"

#include <chrono>
#include <utility>

#include "absl/time/time.h"

#include "services/storage/repos/proto_time.h"

namespace coffer::storage {
namespace {

// One prune in flight. Owned by the done callback of the chunk in flight,
// which hands it to the next chunk's; the work of that chunk refers to it by
// pointer, since the pool runs a write's work before its done.
struct PruneRun {
  std::shared_ptr<db::ConnectionPool> pool;
  const v1::PruneRequest* request = nullptr;
  v1::PruneResponse* response = nullptr;
  absl::AnyInvocable<void(absl::Status)> done;
  PruneLimits limits;
  std::chrono::steady_clock::time_point started;
  // Where the committed chunks left off.
  PruneProgress progress;
  // What the chunk in flight did, taken over only once it committed: a
  // chunk whose work succeeded can still fail with its batch's COMMIT.
  PruneProgress chunk_progress;
  v1::PruneResponse chunk_counts;
};

void AddCounts(const v1::PruneResponse& chunk, v1::PruneResponse* total) {
  total->set_snapshots_deleted(total->snapshots_deleted() + chunk.snapshots_deleted());
  total->set_items_deleted(total->items_deleted() + chunk.items_deleted());
  total->set_prices_deleted(total->prices_deleted() + chunk.prices_deleted());
  total->set_items_kept(total->items_kept() + chunk.items_kept());
}

void Finish(std::unique_ptr<PruneRun> run, absl::Status status) {
  *run->response->mutable_duration() =
      ToDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - run->started)
                     .count());
  absl::AnyInvocable<void(absl::Status)> done = std::move(run->done);
  run.reset();
  done(std::move(status));
}

void SubmitChunk(std::unique_ptr<PruneRun> run);

void OnChunkDone(std::unique_ptr<PruneRun> run, absl::Status status) {
  if (!status.ok()) {
    Finish(std::move(run), std::move(status));
    return;
  }
  AddCounts(run->chunk_counts, run->response);
  run->progress = run->chunk_progress;
  if (run->progress.finished()) {
    Finish(std::move(run), absl::OkStatus());
    return;
  }
  SubmitChunk(std::move(run));
}

void SubmitChunk(std::unique_ptr<PruneRun> run) {
  PruneRun* const in_flight = run.get();
  // A copy: a refused Write calls done inline, which frees the run (and its
  // reference) while Write is still running.
  std::shared_ptr<db::ConnectionPool> pool = run->pool;
  pool->Write(
      [in_flight](db::WriteContext& tx) {
        in_flight->chunk_progress = in_flight->progress;
        in_flight->chunk_counts.Clear();
        return PruneChunk(tx, *in_flight->request, in_flight->limits, in_flight->chunk_progress,
                          &in_flight->chunk_counts, absl::Now());
      },
      [run = std::move(run)](absl::Status status) mutable {
        OnChunkDone(std::move(run), std::move(status));
      });
}

}  // namespace

void RunPrune(std::shared_ptr<db::ConnectionPool> pool, const v1::PruneRequest& request,
              v1::PruneResponse* response, absl::AnyInvocable<void(absl::Status)> done,
              PruneLimits limits) {
  auto run = std::make_unique<PruneRun>();
  run->pool = std::move(pool);
  run->request = &request;
  run->response = response;
  run->done = std::move(done);
  run->limits = limits;
  run->started = std::chrono::steady_clock::now();
  SubmitChunk(std::move(run));
}

}  // namespace coffer::storage
