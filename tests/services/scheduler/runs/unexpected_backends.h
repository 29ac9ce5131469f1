// Base fakes for run tests: every call a run is not expected to make fails
// the test with the method's name (and, answered nowhere, leaves the run
// waiting). A test's fake derives from them and overrides what its run uses.
//
//   class FakeStorage : public UnexpectedRunStorage {
//     void Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) override;
//   };
#ifndef COFFER_TESTS_SERVICES_SCHEDULER_RUNS_UNEXPECTED_BACKENDS_H_
#define COFFER_TESTS_SERVICES_SCHEDULER_RUNS_UNEXPECTED_BACKENDS_H_

#include "gtest/gtest.h"

#include "services/scheduler/runs/run_backends.h"

namespace coffer::scheduler {

class UnexpectedRunStorage : public RunStorage {
 public:
  void ListAccounts(const v1::ListAccountsRequest&, Answer<v1::ListAccountsResponse>) override {
    ADD_FAILURE() << "unexpected Storage.ListAccounts";
  }
  void WriteSnapshot(const v1::WriteSnapshotRequest&, Answer<v1::WriteSnapshotResponse>) override {
    ADD_FAILURE() << "unexpected Storage.WriteSnapshot";
  }
  void WriteSnapshotPart(const v1::WriteSnapshotPartRequest&,
                         Answer<v1::WriteSnapshotPartResponse>) override {
    ADD_FAILURE() << "unexpected Storage.WriteSnapshotPart";
  }
  void GetPortfolio(const v1::GetPortfolioRequest&, Answer<v1::GetPortfolioResponse>) override {
    ADD_FAILURE() << "unexpected Storage.GetPortfolio";
  }
  void WritePrices(const v1::WritePricesRequest&, Answer<v1::WritePricesResponse>) override {
    ADD_FAILURE() << "unexpected Storage.WritePrices";
  }
  void Prune(const v1::PruneRequest&, Answer<v1::PruneResponse>) override {
    ADD_FAILURE() << "unexpected Storage.Prune";
  }
  absl::AnyInvocable<void()> Backup(const v1::BackupRequest&,
                                    absl::AnyInvocable<void(const v1::BackupResponse&)>,
                                    absl::AnyInvocable<void(absl::Status) &&>) override {
    ADD_FAILURE() << "unexpected Storage.Backup";
    return [] {};
  }
};

class UnexpectedRunFetcher : public RunFetcher {
 public:
  CancelCall ResolveBlocks(const v1::ResolveBlocksRequest&,
                           Answer<v1::ResolveBlocksResponse>) override {
    ADD_FAILURE() << "unexpected Fetcher.ResolveBlocks";
    return {};
  }
  CancelCall QueryBalances(const v1::QueryBalancesRequest&,
                           Answer<v1::QueryBalancesResponse>) override {
    ADD_FAILURE() << "unexpected Fetcher.QueryBalances";
    return {};
  }
  CancelCall QueryPrices(const v1::QueryPricesRequest&, Answer<v1::QueryPricesResponse>) override {
    ADD_FAILURE() << "unexpected Fetcher.QueryPrices";
    return {};
  }
};

}  // namespace coffer::scheduler

#endif  // COFFER_TESTS_SERVICES_SCHEDULER_RUNS_UNEXPECTED_BACKENDS_H_
