// One run's view of the backends, through which a cancelled run stops
// waiting: CancelReads() answers every read still outstanding (fetcher
// calls, ListAccounts, GetPortfolio) CANCELLED at once, and any read asked
// later too, so a run stuck behind a stalled fetcher ends as soon as it is
// cancelled or times out instead of when the call's deadline comes. The
// abandoned fetcher calls are cancelled on the wire too (the fetcher then
// drops their queued upstream work); storage reads run to their end, their
// answers dropped.
// Writes (WriteSnapshot, WriteSnapshotPart, WritePrices, Prune) and the
// backup stream are never cut short: whether storage committed is only known
// from its answer, and a run must report what it wrote.
//
//   auto scope = CancellableBackends::Create(backends);
//   StartTaskRun(scope->backends(), task, context, progress,
//                [scope](RunOutcome outcome) { ... });   // keeps it alive
//   run->Cancel(reason);
//   scope->CancelReads(absl::CancelledError("the run was cancelled"));
//
// Thread-safe. Answers run on the inner backend's threads or on the thread
// that calls CancelReads.
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_CANCELLABLE_BACKENDS_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_CANCELLABLE_BACKENDS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"

#include "services/scheduler/runs/run_backends.h"
#include "services/scheduler/runs/run_starter.h"

namespace coffer::scheduler {

class CancellableBackends final : public RunStorage,
                                  public RunFetcher,
                                  public std::enable_shared_from_this<CancellableBackends> {
 public:
  // `inner`'s backends must outlive every call made through the result.
  static std::shared_ptr<CancellableBackends> Create(const RunBackends& inner);

  // This object as the run's backends.
  RunBackends backends() { return {.storage = this, .fetcher = this}; }

  // Answers every outstanding and later read with `status`. Idempotent: the
  // first status stays.
  void CancelReads(const absl::Status& status);

  void ListAccounts(const v1::ListAccountsRequest& request,
                    Answer<v1::ListAccountsResponse> done) override;
  void WriteSnapshot(const v1::WriteSnapshotRequest& request,
                     Answer<v1::WriteSnapshotResponse> done) override;
  void WriteSnapshotPart(const v1::WriteSnapshotPartRequest& request,
                         Answer<v1::WriteSnapshotPartResponse> done) override;
  void GetPortfolio(const v1::GetPortfolioRequest& request,
                    Answer<v1::GetPortfolioResponse> done) override;
  void WritePrices(const v1::WritePricesRequest& request,
                   Answer<v1::WritePricesResponse> done) override;
  void Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) override;
  absl::AnyInvocable<void()> Backup(const v1::BackupRequest& request,
                                    absl::AnyInvocable<void(const v1::BackupResponse&)> on_message,
                                    absl::AnyInvocable<void(absl::Status) &&> done) override;

  // Each answers a function that cancels that one read (answered
  // CANCELLED at once, cancelled on the wire).
  CancelCall ResolveBlocks(const v1::ResolveBlocksRequest& request,
                           Answer<v1::ResolveBlocksResponse> done) override;
  CancelCall QueryBalances(const v1::QueryBalancesRequest& request,
                           Answer<v1::QueryBalancesResponse> done) override;
  CancelCall QueryPrices(const v1::QueryPricesRequest& request,
                         Answer<v1::QueryPricesResponse> done) override;

  // Use Create.
  explicit CancellableBackends(const RunBackends& inner) : inner_(inner) {}

 private:
  // A read's answer, given once: by the inner backend or by CancelReads.
  template <typename Reply>
  class OnceAnswer;

  // Sends a read through `send` unless reads are cancelled; answers its id
  // (0: not sent). `send` may answer how to cancel the inner call.
  template <typename Reply, typename Send>
  uint64_t Read(Answer<Reply> done, Send send);
  // Fails read `id` with CANCELLED and cancels its inner call.
  void CancelRead(uint64_t id);
  // A cancel function for read `id`.
  CancelCall CancelOf(uint64_t id);

  // An outstanding read: how to fail its caller, and how to cancel the
  // inner call (fetcher reads).
  struct PendingRead {
    absl::AnyInvocable<void(const absl::Status&)> fail = {};
    CancelCall cancel = {};
  };

  const RunBackends inner_;
  std::mutex mu_;
  std::optional<absl::Status> cancelled_;
  uint64_t next_id_ = 0;
  // The outstanding reads.
  std::map<uint64_t, PendingRead> reads_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_CANCELLABLE_BACKENDS_H_
