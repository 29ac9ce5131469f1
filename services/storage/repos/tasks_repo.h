// Task definitions in the database (Storage.CreateTaskDefinition, Get, List,
// Update, Delete), as protos/coffer/v1/storage.proto documents them. Each
// function is the work of one db::ConnectionPool Write or Read and runs on the
// pool's thread:
//
//   pool->Write(
//       [&request, response](db::WriteContext& tx) {
//         return CreateTaskDefinition(tx, request, response, absl::Now());
//       },
//       std::move(done));
//
// A row of `tasks` holds what only the scheduler interprets (description,
// params, schedule, run retention) as a serialized coffer.v1.Task in
// `definition`, and what storage updates in its own transactions (pause
// state, next run, failures, last run, times, revision) as columns. LoadTask
// and StoreTask convert between the two, so runs_repo updates a task the same
// way. A returned error undoes everything the call wrote.
#ifndef COFFER_SERVICES_STORAGE_REPOS_TASKS_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_TASKS_REPO_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Longest description and status note, in bytes.
inline constexpr size_t kMaxTaskNoteBytes = 256;
// Limits of RefreshBalancesParams: batch_size up to the fetcher's default
// max_batch_items (storage cannot know the fetcher's configured value).
inline constexpr uint32_t kMaxTaskBatchSize = 10000;
inline constexpr uint32_t kMaxTaskBatchesInFlight = 64;
// Limits of RefreshPricesParams.
inline constexpr size_t kMaxTaskQuoteCurrencies = 10;
inline constexpr size_t kMaxTaskExtraAssetIds = 1000;

// INVALID_ARGUMENT naming the field ("task.schedule.interval: ...") unless
// `task` is a valid definition: every rule of coffer.v1.Task, Schedule,
// Backoff, RunRetention and the params of its kind. `field` prefixes the
// messages. The output-only fields are not looked at.
[[nodiscard]] absl::Status ValidateTask(const v1::Task& task, absl::string_view field);

// Reads task `task_id` whole (definition and state columns) into `task`:
// false when there is none. Takes the connection of either a ReadContext or
// a WriteContext.
[[nodiscard]] absl::StatusOr<bool> LoadTask(db::Connection& connection, absl::string_view task_id,
                                            v1::Task* task);

// Overwrites the stored row of `task.task_id()` (which must exist) with
// `task`, as given: callers set updated_at and revision themselves.
[[nodiscard]] absl::Status StoreTask(db::WriteContext& tx, const v1::Task& task);

// Stores request.task (fence checked when set). Output-only fields and the
// run-derived state (consecutive_failures, last_run_*) are ignored; an
// empty task_id is generated as "<kind>-<8 hex digits>" ("prune-0a1b2c3d");
// next_run_time defaults to now + schedule.first_run_delay; paused_at is now
// for a task created paused. INVALID_ARGUMENT for an invalid task,
// ALREADY_EXISTS for a taken task_id.
[[nodiscard]] absl::Status CreateTaskDefinition(db::WriteContext& tx,
                                                const v1::CreateTaskDefinitionRequest& request,
                                                v1::CreateTaskDefinitionResponse* response,
                                                absl::Time now);

// INVALID_ARGUMENT without a task_id, NOT_FOUND for an unknown one.
[[nodiscard]] absl::Status GetTaskDefinition(db::ReadContext& tx,
                                             const v1::GetTaskDefinitionRequest& request,
                                             v1::GetTaskDefinitionResponse* response);

// One page of tasks by task_id, filtered by kind. The page token is bound
// to the set of kinds (their order and repeats do not matter).
[[nodiscard]] absl::Status ListTaskDefinitions(db::ReadContext& tx,
                                               const v1::ListTaskDefinitionsRequest& request,
                                               v1::ListTaskDefinitionsResponse* response);

// Copies the fields update_mask names from request.task onto the stored
// task (a named message or list is replaced whole; a path naming an unset
// field clears it), validates the result and stores it. Paths task_id,
// kind, created_at, updated_at, revision and the output-only paused_at are
// INVALID_ARGUMENT, as are unknown paths. Changing `paused` sets or clears
// paused_at. revision grows by one and updated_at becomes now when anything
// changed; an update that changes nothing answers the task as it was.
// ABORTED when expected_revision is set and the stored revision differs.
[[nodiscard]] absl::Status UpdateTaskDefinition(db::WriteContext& tx,
                                                const v1::UpdateTaskDefinitionRequest& request,
                                                v1::UpdateTaskDefinitionResponse* response,
                                                absl::Time now);

// Deletes the task and, unless keep_runs, its run records. NOT_FOUND for an
// unknown task, FAILED_PRECONDITION while one of its runs is RUNNING.
[[nodiscard]] absl::Status DeleteTaskDefinition(db::WriteContext& tx,
                                                const v1::DeleteTaskDefinitionRequest& request,
                                                v1::DeleteTaskDefinitionResponse* response,
                                                absl::Time now);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_TASKS_REPO_H_
