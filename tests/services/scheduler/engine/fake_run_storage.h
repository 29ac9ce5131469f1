// A RunStorage for task engine tests whose prune runs the test controls: a
// TASK_KIND_PRUNE run is one Storage.Prune call, which this fake holds until
// the test answers it, so a test decides how long a run lasts and how it
// ends. ListAccounts (the default balance task's first call) answers an
// error at once; every other call fails the test.
//
//   FakeRunStorage storage;
//   TaskEngine engine(options, &store, {.storage = &storage}, ...);
//   ASSERT_TRUE(storage.AwaitPrunes(1));          // the run is going
//   storage.AnswerPrune(v1::PruneResponse());     // ... and succeeds
//
// Thread-safe; answers run on the answering (test) thread, outside locks.
#ifndef COFFER_TESTS_SERVICES_SCHEDULER_ENGINE_FAKE_RUN_STORAGE_H_
#define COFFER_TESTS_SERVICES_SCHEDULER_ENGINE_FAKE_RUN_STORAGE_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

#include "services/scheduler/runs/run_backends.h"

namespace coffer::scheduler {

class FakeRunStorage : public RunStorage {
 public:
  void Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) override;
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
  absl::AnyInvocable<void()> Backup(const v1::BackupRequest& request,
                                    absl::AnyInvocable<void(const v1::BackupResponse&)> on_message,
                                    absl::AnyInvocable<void(absl::Status) &&> done) override;

  // Waits in real time, up to `timeout`, until `count` Prune calls were made
  // in all.
  [[nodiscard]] bool AwaitPrunes(size_t count, absl::Duration timeout = absl::Seconds(30));
  // Answers the oldest held Prune; false when none is held.
  bool AnswerPrune(absl::StatusOr<v1::PruneResponse> reply);
  // Answers every held Prune with `status`.
  void AnswerAllPrunes(const absl::Status& status);

  size_t prune_calls() const;
  size_t held_prunes() const;
  size_t list_accounts_calls() const;
  std::vector<v1::PruneRequest> prune_requests() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable prune_called_;
  std::deque<Answer<v1::PruneResponse>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::PruneRequest> prune_requests_ ABSL_GUARDED_BY(mu_);
  size_t list_accounts_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class FakeRunFetcher : public RunFetcher {
 public:
  CancelCall ResolveBlocks(const v1::ResolveBlocksRequest& request,
                           Answer<v1::ResolveBlocksResponse> done) override;
  CancelCall QueryBalances(const v1::QueryBalancesRequest& request,
                           Answer<v1::QueryBalancesResponse> done) override;
  CancelCall QueryPrices(const v1::QueryPricesRequest& request,
                         Answer<v1::QueryPricesResponse> done) override;

  size_t calls() const;

 private:
  mutable std::mutex mu_;
  size_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace coffer::scheduler

#endif  // COFFER_TESTS_SERVICES_SCHEDULER_ENGINE_FAKE_RUN_STORAGE_H_
