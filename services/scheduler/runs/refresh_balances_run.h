// One run of a refresh_balances task: every selected account's balances read
// through the fetcher at one pinned block per chain, and written to storage
// as one snapshot: its items handed over in parts while the fetch still goes
// on, the snapshot committed once it ended.
//
//   auto run = RefreshBalancesRun::Start(
//       storage, fetcher, {.run_id = id, .fence = fence, .params = task.refresh_balances(),
//                          .taken_at = now},
//       [](const v1::Progress& progress) { ... },     // any thread
//       [](RunOutcome outcome) { ... });              // once, any thread
//   run->Cancel(reason);  // e.g. CancelRun, the run timeout, a lost lease
//
// The stages, each asynchronous (nothing here blocks a thread), overlapping
// where they can:
//  1. Blocks: Fetcher.ResolveBlocks pins every configured chain's head (or
//     the params' block_tag) once; every batch reads at those numbers and
//     the snapshot records them. A chain whose block cannot be resolved is
//     read at its head by each batch, and its items say which block. It
//     runs alongside stage 2 (the blocks depend on the fetcher's configured
//     chains, not on the accounts); no batch is sent before it ended.
//  2. Accounts: Storage.ListAccounts pages through the selected accounts
//     (chain_id, tags), 1,000 in the first page (the first batches go out
//     soon) and 5,000 in each further one (fewer round trips to wait for),
//     each page asked for as soon as the previous one came (one page at a time: a page token comes
//     only with the page before it). The total is known when the listing ended.
//  3. Balances: Fetcher.QueryBalances in batches of params.batch_size
//     accounts (default 500; each account's own asset_ids when it has
//     them, else every asset the fetcher has for its chain), at most
//     params.max_batches_in_flight (default 4, at most 64) at once. A batch
//     goes out as soon as its accounts are listed (a full batch, or the last
//     partial one once the listing ended), while later pages are still
//     being listed: the two overlap.
//  4. Parts: the items of answered batches wait for storage. Whenever at
//     least options.snapshot_part_items (default 1,000) wait and batches are
//     still to come, every waiting item goes to Storage.WriteSnapshotPart as
//     the next part (numbered 0, 1, 2, ... in the order sent), fenced with
//     the run's lease epoch, keyed by the run id, with the snapshot's
//     taken_at. Storage does the part's item inserts then, while the fetch
//     goes on, and shows nothing of it until the commit. At most one part is
//     in flight (storage has one writer, so a second would only queue
//     there): items that answer meanwhile wait for the next part. Once the
//     listing ended and every batch answered, no part is sent: the commit
//     takes whatever waits.
//  5. Commit: once the listing ended, every batch answered and no part is
//     in flight, Storage.WriteSnapshot with the waiting items and parts =
//     the number of parts sent, fenced, idempotent by the run id; storage
//     then makes the whole snapshot visible at once. A run that never had
//     snapshot_part_items waiting before its last batch answered sends no
//     part: its one WriteSnapshot holds every item, in the listing's order
//     (batch by batch, each batch's in the fetcher's order), however the
//     batches' answers interleave. With parts, each part and the commit
//     hold their batches in that order.
//
// A snapshot holds at most 100,000 items, parts and commit together: a run
// that read more fails RESOURCE_EXHAUSTED as soon as it did (not when its
// fetch ended), sending no part past the limit.
//
// Partial failure is a result: a failed item is written as failed, never as
// zero, and counted and grouped in the outcome's error_summary; the state is
// SUCCEEDED, PARTIAL or FAILED by StateOfItems. An item the snapshot cannot
// hold (the fetcher's answer for an account it cannot read at all, which has
// no asset) and a batch whose call failed as a whole (its accounts' assets
// unknown) count one failed item per account, in the summary, not in the
// snapshot. Failing to resolve any block, to list the accounts, to write a
// part ("writing snapshot part N") or to write the snapshot fails the run,
// with nothing committed: it makes no new call and ends FAILED once its
// outstanding calls (batches sent while the listing went on, a part in
// flight) answered, their answers unused, so `done` never runs with a call
// of the run still out (the engine's shutdown relies on that to destroy the
// clients safely). A cancelled run commits nothing and ends CANCELLED with
// the given reason once its outstanding calls answered. The parts a failed
// or cancelled run wrote stay open in storage, invisible, until storage
// deletes them a day later.
//
// Progress counts accounts whose batch answered; its total is 0 until the
// listing ended (the stage says "listing accounts" until then, even with
// batches out), then the accounts listed ("fetching"); "writing snapshot"
// during the commit (parts go out during the other stages).
//
// Each run records how long it spent in each stage in the process's metrics
// (metrics::Registry::Global(), so Admin.GetMetrics reports them), as the
// histogram coffer_scheduler_run_stage_seconds{kind="refresh_balances",
// stage=...}: "fetch" is stages 1 and 3 (the first ResolveBlocks sent to the
// last answered, plus the first QueryBalances sent to the last answered),
// "list_accounts" stage 2 (the first page asked for to the last answered),
// "write_parts" stage 4 (the time parts were in flight, summed over the
// run's parts; it overlaps the fetch), "write" stage 5 (from building the
// commit to storage's answer: what the run waits for after its fetch and
// its last part), and "collect" stages 1 to 3 as they overlapped (the first
// ResolveBlocks sent to the last batch answered). Since stage 3 overlaps
// stage 2, list_accounts + fetch can exceed collect. list_accounts is
// recorded when the listing ended, fetch and collect when the last batch
// answered (failed batches included), write_parts when the commit is sent
// and only by a run that sent parts, write when storage answers the commit,
// even with an error; a run that fails or is cancelled before a stage ended
// records nothing for it.
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_REFRESH_BALANCES_RUN_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_REFRESH_BALANCES_RUN_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/fetcher.pb.h"
#include "coffer/v1/storage.pb.h"
#include "services/scheduler/runs/run.h"
#include "services/scheduler/runs/run_backends.h"
#include "services/scheduler/runs/run_lifecycle.h"
#include "services/scheduler/runs/run_outcome.h"

namespace coffer::scheduler {

// Defaults and limits of RefreshBalancesParams (storage.proto).
inline constexpr uint32_t kDefaultRefreshBatchSize = 500;
inline constexpr uint32_t kDefaultRefreshBatchesInFlight = 4;
inline constexpr uint32_t kMaxRefreshBatchesInFlight = 64;
// Storage's limit on a snapshot's items, its parts' and its commit's together.
inline constexpr size_t kMaxSnapshotItems = 100000;
// Storage's limit on part numbers (WriteSnapshotPartRequest.part < 10,000):
// past it, items wait for the commit.
inline constexpr uint32_t kMaxSnapshotParts = 10000;
// How many waiting items make a part. Small enough that the tail the commit
// still inserts after the fetch (what arrived while the last part was in
// flight, about a batch or two) stays small; large enough that storage's
// fixed cost per part (a round trip, a transaction, the open snapshot's
// lookup and its snapshot_parts row) stays negligible beside the part's
// item inserts: a 10,000-account run sends tens of parts, not thousands.
// (A default batch, 500 accounts reading two assets each, is one part.)
inline constexpr size_t kDefaultSnapshotPartItems = 1000;

struct RefreshBalancesRunOptions {
  std::string run_id;
  v1::Fence fence;
  v1::RefreshBalancesParams params;
  // A forced trigger: bypass the fetcher's caches for this run.
  bool forced = false;
  // When the readings began (the snapshot's taken_at, and every part's).
  absl::Time taken_at;
  // Items waiting that make a part (stage 4 of the file comment); 0 counts
  // as 1.
  size_t snapshot_part_items = kDefaultSnapshotPartItems;
};

class RefreshBalancesRun : public Run, public std::enable_shared_from_this<RefreshBalancesRun> {
 public:
  using ProgressCallback = absl::AnyInvocable<void(const v1::Progress&)>;
  using DoneCallback = absl::AnyInvocable<void(RunOutcome) &&>;

  // `storage` and `fetcher` must outlive the run (until `done` ran).
  static std::shared_ptr<RefreshBalancesRun> Start(RunStorage* storage, RunFetcher* fetcher,
                                                   RefreshBalancesRunOptions options,
                                                   ProgressCallback progress, DoneCallback done);

  // Stops the run: no new calls; ends CANCELLED with `reason` once the
  // outstanding ones answered. Idempotent; a no-op once it finished.
  void Cancel(v1::Error reason) override;

  // Use Start.
  RefreshBalancesRun(RunStorage* storage, RunFetcher* fetcher, RefreshBalancesRunOptions options,
                     ProgressCallback progress, DoneCallback done);

 private:
  void ResolveBlocks(bool with_tags);
  void OnBlocks(bool with_tags, absl::StatusOr<v1::ResolveBlocksResponse> reply);
  void ListAccounts(std::string page_token);
  void OnAccounts(absl::StatusOr<v1::ListAccountsResponse> reply);
  // Sends batches while there is room and accounts for them, a part when
  // enough items wait and none is in flight; commits the snapshot once the
  // listing ended, the last batch answered and no part is in flight.
  void Pump();
  void OnBatch(size_t index, size_t first, size_t count,
               absl::StatusOr<v1::QueryBalancesResponse> reply);
  // The next part, of every waiting item, counted as sent (mutex_ held; the
  // call counted already).
  v1::WriteSnapshotPartRequest TakePart();
  void OnPartWritten(uint32_t part, absl::StatusOr<v1::WriteSnapshotPartResponse> reply);
  void WriteSnapshot();
  void OnWritten(absl::StatusOr<v1::WriteSnapshotResponse> reply);
  // Counts an answer; false when it is not to be used (the run is
  // cancelled or failing), ending the run when it was the last one out.
  bool Answered();
  void Finish(RunOutcome outcome);
  // Ends the run FAILED now: for failures with no call of the run out.
  void FailWith(absl::Status status, const char* what, const char* upstream);
  // Fails the run with `error` while other calls may be out: no new call,
  // and the run ends FAILED when the last one answered (Answered).
  void FailAfterCalls(v1::Error error);
  // The counts and error summary as they stand, with `state`.
  RunOutcome Outcome(v1::RunState state) const;
  // Calls progress_ with where the run stands (serialized: callbacks come
  // from several threads).
  void ReportProgress();

  RunStorage* const storage_;
  RunFetcher* const fetcher_;
  const RefreshBalancesRunOptions options_;
  const uint32_t batch_size_;
  const uint32_t batches_in_flight_;
  const size_t part_items_;
  const bool bypass_cache_;
  std::mutex progress_mutex_;
  ProgressCallback progress_;
  RunLifecycle lifecycle_;

  mutable std::mutex mutex_;
  // Where the run stands: stage 3 runs while 2 goes on; `fetched_` once the
  // last batch answered; `writing_` once stage 5 began; `ended_` once `done`
  // ran or a failure waits for the outstanding calls.
  bool blocks_resolved_ = false;
  bool listing_ended_ = false;
  bool fetched_ = false;
  bool writing_ = false;
  bool ended_ = false;
  std::optional<v1::Error> failure_;        // set by FailAfterCalls
  std::vector<std::string> tagged_chains_;  // for a block_tag other than latest
  std::vector<v1::BlockRef> blocks_;
  // What to read of each account listed, in the listing's order.
  std::vector<v1::BalanceQuery> accounts_;
  size_t next_account_ = 0;
  size_t accounts_done_ = 0;
  uint32_t batches_out_ = 0;
  uint64_t batches_ = 0;
  // Each batch's items, by batch: parts and the commit take them in this
  // order (a batch sent in a part is left empty).
  std::vector<std::vector<v1::BalanceItem>> batch_items_;
  // The answered batches whose items wait for a part or the commit, and
  // how many items they hold.
  std::vector<size_t> waiting_batches_;
  size_t waiting_items_ = 0;
  // Stage 4: parts sent so far (the next part's number) and their items.
  uint32_t parts_sent_ = 0;
  size_t part_items_sent_ = 0;
  // True from sending a part to its answer, and for good once one failed:
  // neither a part nor the commit follows a failed part.
  bool part_in_flight_ = false;
  uint64_t succeeded_ = 0;
  ErrorTally tally_;
  // For the stage metrics (see the file comment).
  std::chrono::steady_clock::time_point resolve_started_;
  std::chrono::steady_clock::duration resolve_time_{};
  std::chrono::steady_clock::time_point list_started_;
  std::optional<std::chrono::steady_clock::time_point> fetch_started_;
  std::chrono::steady_clock::time_point part_started_;
  std::chrono::steady_clock::duration parts_time_{};
  std::chrono::steady_clock::time_point write_started_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_REFRESH_BALANCES_RUN_H_
