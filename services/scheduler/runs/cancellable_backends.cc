#include "services/scheduler/runs/cancellable_backends.h"

#include <atomic>
#include <type_traits>
#include <utility>
#include <vector>

namespace coffer::scheduler {

template <typename Reply>
class CancellableBackends::OnceAnswer {
 public:
  explicit OnceAnswer(Answer<Reply> done) : done_(std::move(done)) {}

  void Give(absl::StatusOr<Reply> reply) {
    if (given_.exchange(true)) return;
    std::move(done_)(std::move(reply));
  }

 private:
  std::atomic<bool> given_{false};
  Answer<Reply> done_;
};

std::shared_ptr<CancellableBackends> CancellableBackends::Create(const RunBackends& inner) {
  return std::make_shared<CancellableBackends>(inner);
}

void CancellableBackends::CancelReads(const absl::Status& status) {
  std::map<uint64_t, PendingRead> reads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_.has_value()) return;
    cancelled_ = status;
    reads.swap(reads_);
  }
  // Answered first, so the run ends at once; then cancelled on the wire
  // (that answer finds the read answered and is dropped).
  for (auto& [id, read] : reads) {
    read.fail(status);
    if (read.cancel) read.cancel();
  }
}

void CancellableBackends::CancelRead(uint64_t id) {
  PendingRead read;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = reads_.find(id);
    if (it == reads_.end()) return;  // answered, or cancelled with the rest
    read = std::move(it->second);
    reads_.erase(it);
  }
  read.fail(absl::CancelledError("the read was cancelled"));
  if (read.cancel) read.cancel();
}

CancelCall CancellableBackends::CancelOf(uint64_t id) {
  if (id == 0) return [] {};
  return [self = shared_from_this(), id] { self->CancelRead(id); };
}

template <typename Reply, typename Send>
uint64_t CancellableBackends::Read(Answer<Reply> done, Send send) {
  auto answer = std::make_shared<OnceAnswer<Reply>>(std::move(done));
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_.has_value()) {
      id = ++next_id_;
      reads_.emplace(
          id, PendingRead{.fail = [answer](const absl::Status& status) { answer->Give(status); }});
    }
  }
  if (id == 0) {
    std::optional<absl::Status> status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      status = cancelled_;
    }
    answer->Give(*status);
    return 0;
  }
  auto answered = [self = shared_from_this(), answer, id](absl::StatusOr<Reply> reply) {
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->reads_.erase(id);
    }
    answer->Give(std::move(reply));
  };
  if constexpr (std::is_void_v<std::invoke_result_t<Send&, Answer<Reply>>>) {
    send(std::move(answered));
  } else {
    CancelCall cancel = send(std::move(answered));
    if (!cancel) return id;
    bool cancel_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = reads_.find(id); it != reads_.end()) {
        it->second.cancel = std::move(cancel);
      } else {
        // Answered already (cancelling does nothing then), or cancelled
        // while it was being sent: cancel it now.
        cancel_now = cancelled_.has_value();
      }
    }
    if (cancel_now) cancel();
  }
  return id;
}

void CancellableBackends::ListAccounts(const v1::ListAccountsRequest& request,
                                       Answer<v1::ListAccountsResponse> done) {
  Read<v1::ListAccountsResponse>(std::move(done), [&](Answer<v1::ListAccountsResponse> answer) {
    inner_.storage->ListAccounts(request, std::move(answer));
  });
}

void CancellableBackends::GetPortfolio(const v1::GetPortfolioRequest& request,
                                       Answer<v1::GetPortfolioResponse> done) {
  Read<v1::GetPortfolioResponse>(std::move(done), [&](Answer<v1::GetPortfolioResponse> answer) {
    inner_.storage->GetPortfolio(request, std::move(answer));
  });
}

CancelCall CancellableBackends::ResolveBlocks(const v1::ResolveBlocksRequest& request,
                                              Answer<v1::ResolveBlocksResponse> done) {
  return CancelOf(Read<v1::ResolveBlocksResponse>(
      std::move(done), [&](Answer<v1::ResolveBlocksResponse> answer) {
        return inner_.fetcher->ResolveBlocks(request, std::move(answer));
      }));
}

CancelCall CancellableBackends::QueryBalances(const v1::QueryBalancesRequest& request,
                                              Answer<v1::QueryBalancesResponse> done) {
  return CancelOf(Read<v1::QueryBalancesResponse>(
      std::move(done), [&](Answer<v1::QueryBalancesResponse> answer) {
        return inner_.fetcher->QueryBalances(request, std::move(answer));
      }));
}

CancelCall CancellableBackends::QueryPrices(const v1::QueryPricesRequest& request,
                                            Answer<v1::QueryPricesResponse> done) {
  return CancelOf(
      Read<v1::QueryPricesResponse>(std::move(done), [&](Answer<v1::QueryPricesResponse> answer) {
        return inner_.fetcher->QueryPrices(request, std::move(answer));
      }));
}

void CancellableBackends::WriteSnapshot(const v1::WriteSnapshotRequest& request,
                                        Answer<v1::WriteSnapshotResponse> done) {
  inner_.storage->WriteSnapshot(request, std::move(done));
}

void CancellableBackends::WriteSnapshotPart(const v1::WriteSnapshotPartRequest& request,
                                            Answer<v1::WriteSnapshotPartResponse> done) {
  inner_.storage->WriteSnapshotPart(request, std::move(done));
}

void CancellableBackends::WritePrices(const v1::WritePricesRequest& request,
                                      Answer<v1::WritePricesResponse> done) {
  inner_.storage->WritePrices(request, std::move(done));
}

void CancellableBackends::Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) {
  inner_.storage->Prune(request, std::move(done));
}

absl::AnyInvocable<void()> CancellableBackends::Backup(
    const v1::BackupRequest& request,
    absl::AnyInvocable<void(const v1::BackupResponse&)> on_message,
    absl::AnyInvocable<void(absl::Status) &&> done) {
  // BackupRun cancels its own stream when the run is cancelled.
  return inner_.storage->Backup(request, std::move(on_message), std::move(done));
}

}  // namespace coffer::scheduler
