// What a scheduler run asks of the other services, as interfaces: the
// production implementations call them over async gRPC (AsyncClient), tests
// pass fakes. Every call answers exactly once through its callback, which
// may run on any thread (a gRPC poller) and must not block; it may also run
// before the call returns.
//
//   backends.fetcher->QueryBalances(request, [run](absl::StatusOr<Reply> reply) {
//     run->OnBatch(std::move(reply));
//   });
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_RUN_BACKENDS_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_RUN_BACKENDS_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

#include "coffer/v1/fetcher.pb.h"
#include "coffer/v1/storage.pb.h"

namespace coffer::scheduler {

template <typename Reply>
using Answer = absl::AnyInvocable<void(absl::StatusOr<Reply>) &&>;

// Cancels a started call on the wire: the other service sees the
// cancellation (the fetcher then drops the call's queued upstream work) and
// the call's answer comes CANCELLED unless it came first. Calling it after
// the answer does nothing. Empty: the call cannot be cancelled.
using CancelCall = absl::AnyInvocable<void()>;

// The storage calls of runs.
class RunStorage {
 public:
  virtual ~RunStorage() = default;
  virtual void ListAccounts(const v1::ListAccountsRequest& request,
                            Answer<v1::ListAccountsResponse> done) = 0;
  virtual void WriteSnapshot(const v1::WriteSnapshotRequest& request,
                             Answer<v1::WriteSnapshotResponse> done) = 0;
  // Part of a snapshot that a later WriteSnapshot commits (storage.proto).
  virtual void WriteSnapshotPart(const v1::WriteSnapshotPartRequest& request,
                                 Answer<v1::WriteSnapshotPartResponse> done) = 0;
  virtual void GetPortfolio(const v1::GetPortfolioRequest& request,
                            Answer<v1::GetPortfolioResponse> done) = 0;
  virtual void WritePrices(const v1::WritePricesRequest& request,
                           Answer<v1::WritePricesResponse> done) = 0;
  virtual void Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) = 0;
  // Storage.Backup, a stream: `on_message` for each progress message (the
  // last one carries the result), then `done` once. Answers a function that
  // cancels the stream (storage then deletes the partial file); calling it
  // after the end does nothing.
  virtual absl::AnyInvocable<void()> Backup(
      const v1::BackupRequest& request,
      absl::AnyInvocable<void(const v1::BackupResponse&)> on_message,
      absl::AnyInvocable<void(absl::Status) &&> done) = 0;
};

// The fetcher calls of runs, each answering how to cancel it (they read
// the outside world and may take long: a cancelled run's batches stop
// rather than run to their deadline).
class RunFetcher {
 public:
  virtual ~RunFetcher() = default;
  virtual CancelCall ResolveBlocks(const v1::ResolveBlocksRequest& request,
                                   Answer<v1::ResolveBlocksResponse> done) = 0;
  virtual CancelCall QueryBalances(const v1::QueryBalancesRequest& request,
                                   Answer<v1::QueryBalancesResponse> done) = 0;
  virtual CancelCall QueryPrices(const v1::QueryPricesRequest& request,
                                 Answer<v1::QueryPricesResponse> done) = 0;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_RUN_BACKENDS_H_
