#include "tests/services/scheduler/engine/fake_run_storage.h"

#include <chrono>
#include <utility>

#include "gtest/gtest.h"

namespace coffer::scheduler {

void FakeRunStorage::Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    prune_requests_.push_back(request);
    held_.push_back(std::move(done));
  }
  prune_called_.notify_all();
}

void FakeRunStorage::ListAccounts(const v1::ListAccountsRequest&,
                                  Answer<v1::ListAccountsResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++list_accounts_calls_;
  }
  std::move(done)(absl::UnavailableError("fake storage: no accounts in engine tests"));
}

void FakeRunStorage::WriteSnapshot(const v1::WriteSnapshotRequest&,
                                   Answer<v1::WriteSnapshotResponse> done) {
  ADD_FAILURE() << "unexpected Storage.WriteSnapshot";
  std::move(done)(absl::UnimplementedError("WriteSnapshot"));
}

void FakeRunStorage::WriteSnapshotPart(const v1::WriteSnapshotPartRequest&,
                                       Answer<v1::WriteSnapshotPartResponse> done) {
  ADD_FAILURE() << "unexpected Storage.WriteSnapshotPart";
  std::move(done)(absl::UnimplementedError("WriteSnapshotPart"));
}

void FakeRunStorage::GetPortfolio(const v1::GetPortfolioRequest&,
                                  Answer<v1::GetPortfolioResponse> done) {
  ADD_FAILURE() << "unexpected Storage.GetPortfolio";
  std::move(done)(absl::UnimplementedError("GetPortfolio"));
}

void FakeRunStorage::WritePrices(const v1::WritePricesRequest&,
                                 Answer<v1::WritePricesResponse> done) {
  ADD_FAILURE() << "unexpected Storage.WritePrices";
  std::move(done)(absl::UnimplementedError("WritePrices"));
}

absl::AnyInvocable<void()> FakeRunStorage::Backup(
    const v1::BackupRequest&, absl::AnyInvocable<void(const v1::BackupResponse&)>,
    absl::AnyInvocable<void(absl::Status) &&> done) {
  ADD_FAILURE() << "unexpected Storage.Backup";
  std::move(done)(absl::UnimplementedError("Backup"));
  return [] {};
}

bool FakeRunStorage::AwaitPrunes(size_t count, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return prune_called_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                                [&] { return prune_requests_.size() >= count; });
}

bool FakeRunStorage::AnswerPrune(absl::StatusOr<v1::PruneResponse> reply) {
  Answer<v1::PruneResponse> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (held_.empty()) return false;
    done = std::move(held_.front());
    held_.pop_front();
  }
  std::move(done)(std::move(reply));
  return true;
}

void FakeRunStorage::AnswerAllPrunes(const absl::Status& status) {
  while (AnswerPrune(status)) {
  }
}

size_t FakeRunStorage::prune_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return prune_requests_.size();
}

size_t FakeRunStorage::held_prunes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

size_t FakeRunStorage::list_accounts_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return list_accounts_calls_;
}

std::vector<v1::PruneRequest> FakeRunStorage::prune_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return prune_requests_;
}

CancelCall FakeRunFetcher::ResolveBlocks(const v1::ResolveBlocksRequest&,
                                         Answer<v1::ResolveBlocksResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
  }
  std::move(done)(absl::UnavailableError("fake fetcher: down"));
  return {};
}

CancelCall FakeRunFetcher::QueryBalances(const v1::QueryBalancesRequest&,
                                         Answer<v1::QueryBalancesResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
  }
  std::move(done)(absl::UnavailableError("fake fetcher: down"));
  return {};
}

CancelCall FakeRunFetcher::QueryPrices(const v1::QueryPricesRequest&,
                                       Answer<v1::QueryPricesResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
  }
  std::move(done)(absl::UnavailableError("fake fetcher: down"));
  return {};
}

size_t FakeRunFetcher::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

}  // namespace coffer::scheduler
