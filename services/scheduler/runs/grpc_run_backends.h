// RunStorage and RunFetcher over coffer's async gRPC clients: what runs use
// in the scheduler process. Each call gets the deadline given at
// construction; answers come on the client queue's poller thread.
//
//   GrpcRunStorage storage(&storage_client, absl::Seconds(30));
//   GrpcRunFetcher fetcher(&fetcher_client, absl::Minutes(2));
//   RefreshBalancesRun::Start(&storage, &fetcher, options, progress, done);
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_GRPC_RUN_BACKENDS_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_GRPC_RUN_BACKENDS_H_

#include "absl/time/time.h"

#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "services/scheduler/runs/run_backends.h"

namespace coffer::scheduler {

class GrpcRunStorage : public RunStorage {
 public:
  // `client` must outlive this object and every call made through it.
  GrpcRunStorage(grpc_util::AsyncClient<v1::Storage>* client, absl::Duration timeout)
      : client_(client), timeout_(timeout) {}

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
  // Backups take as long as the database is large: the stream has no
  // deadline of its own; the run's timeout cancels it.
  absl::AnyInvocable<void()> Backup(const v1::BackupRequest& request,
                                    absl::AnyInvocable<void(const v1::BackupResponse&)> on_message,
                                    absl::AnyInvocable<void(absl::Status) &&> done) override;

 private:
  grpc_util::AsyncClient<v1::Storage>* const client_;
  const absl::Duration timeout_;
};

class GrpcRunFetcher : public RunFetcher {
 public:
  // `client` must outlive this object and every call made through it.
  GrpcRunFetcher(grpc_util::AsyncClient<v1::Fetcher>* client, absl::Duration timeout)
      : client_(client), timeout_(timeout) {}

  CancelCall ResolveBlocks(const v1::ResolveBlocksRequest& request,
                           Answer<v1::ResolveBlocksResponse> done) override;
  CancelCall QueryBalances(const v1::QueryBalancesRequest& request,
                           Answer<v1::QueryBalancesResponse> done) override;
  CancelCall QueryPrices(const v1::QueryPricesRequest& request,
                         Answer<v1::QueryPricesResponse> done) override;

 private:
  grpc_util::AsyncClient<v1::Fetcher>* const client_;
  const absl::Duration timeout_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_GRPC_RUN_BACKENDS_H_
