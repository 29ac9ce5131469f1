// Run records in the database (Storage.StartRun, FinishRun, GetRunRecord,
// ListRunRecords, AbandonRuns), as protos/coffer/v1/storage.proto documents
// them. Each function is the work of one db::ConnectionPool Write or Read and
// runs on the pool's thread:
//
//   pool->Write(
//       [&request, response](db::WriteContext& tx) {
//         return StartRun(tx, request, response, absl::Now());
//       },
//       std::move(done));
//
// Every write here is made by the scheduler and needs its fence: each
// refuses the whole write with FAILED_PRECONDITION (and writes nothing) when
// the fence's lease moved on. started_at and finished_at are `now`, storage's
// clock. Run.progress and Run.cancel_requested belong to the scheduler and
// are never stored; Error.retry_after of a run's error is not kept either.
#ifndef COFFER_SERVICES_STORAGE_REPOS_RUNS_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_RUNS_REPO_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Most error_summary groups one FinishRun stores.
inline constexpr size_t kMaxRunErrorGroups = 20;
// Most task ids one AbandonRuns names.
inline constexpr size_t kMaxAbandonTaskIds = 1000;

// Records a RUNNING run of request.task_id started now by the fence's holder
// and epoch. A retry with a run_id already recorded for the same task answers
// that run as stored (ALREADY_EXISTS when the run_id belongs to another
// task). NOT_FOUND for an unknown task; FAILED_PRECONDITION naming the
// running run when another run of the task is RUNNING.
[[nodiscard]] absl::Status StartRun(db::WriteContext& tx, const v1::StartRunRequest& request,
                                    v1::StartRunResponse* response, absl::Time now);

// Finishes a RUNNING run in a terminal state, and in the same transaction
// writes to its task next_run_time (as given: unset clears it),
// consecutive_failures and last_run_* (revision + 1), pauses it with
// pause_note when that is non-empty, then applies the task's run retention
// (finished runs beyond the keep_last newest by started_at, or started
// before now - keep_for, are deleted). A run no longer RUNNING is
// FAILED_PRECONDITION, unless the request repeats the FinishRun that
// finished it (same state, counts, error, error_summary and snapshot_id):
// that answers the run and task as they stand, changing nothing.
[[nodiscard]] absl::Status FinishRun(db::WriteContext& tx, const v1::FinishRunRequest& request,
                                     v1::FinishRunResponse* response, absl::Time now);

// INVALID_ARGUMENT without a run_id, NOT_FOUND for an unknown one.
[[nodiscard]] absl::Status GetRunRecord(db::ReadContext& tx, const v1::GetRunRecordRequest& request,
                                        v1::GetRunRecordResponse* response);

// One page of runs, newest started_at first (run_id descending among equal
// times), filtered by task, states and a started_at range. The page token is
// bound to the filters (states in any order or repeated count as one set).
[[nodiscard]] absl::Status ListRunRecords(db::ReadContext& tx,
                                          const v1::ListRunRecordsRequest& request,
                                          v1::ListRunRecordsResponse* response);

// Marks the RUNNING runs of request.task_ids (every task when empty) started
// by request.holder_id (anyone when empty) ABANDONED, finished now with an
// ABORTED error carrying the reason, and records each as its task's last
// run (revision + 1). Answers them ordered by task_id. The tasks' schedule
// and failure counts are left to the scheduler.
[[nodiscard]] absl::Status AbandonRuns(db::WriteContext& tx, const v1::AbandonRunsRequest& request,
                                       v1::AbandonRunsResponse* response, absl::Time now);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_RUNS_REPO_H_
