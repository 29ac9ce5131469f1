// One QueryBalances or StreamBalances call while its items are being
// fetched: chain readers hand in results as their upstream requests
// complete, in any order and from any thread, and the call answers once
// every item has one (QueryBalances), or streams each completion with the
// progress so far (StreamBalances).
//
//   auto call = std::make_shared<BalanceCall>(std::move(plan), BalanceCall::Sink{
//       .on_done = [done](absl::StatusOr<v1::QueryBalancesResponse> r) { ... }});
//   call->Start();                       // answers the items the plan already failed
//   call->AddBlock(block);               // before the first result of that chain
//   call->Complete({{index, item, false}, ...});
//
// Every planned item is answered exactly once: a second result for an
// index is a reader's bug, logged and dropped. Thread-safe.
#ifndef COFFER_SERVICES_FETCHER_BALANCE_CALL_H_
#define COFFER_SERVICES_FETCHER_BALANCE_CALL_H_

#include <atomic>
#include <cstddef>
#include <mutex>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "coffer/v1/fetcher.pb.h"
#include "services/fetcher/balance_plan.h"

namespace coffer::fetcher {

// The answer for plan item `index`.
struct ItemResult {
  size_t index = 0;
  v1::BalanceItem item;
  bool cached = false;
};

class BalanceCall {
 public:
  struct Sink {
    // StreamBalances only: one message per completion. Returns false once
    // the client is gone; the call then counts as cancelled.
    absl::AnyInvocable<bool(v1::StreamBalancesResponse)> on_message = nullptr;
    // Once, when every item has a result: the whole response in plan order
    // (QueryBalances; StreamBalances ignores the response and ends OK).
    absl::AnyInvocable<void(absl::StatusOr<v1::QueryBalancesResponse>)> on_done = nullptr;
  };

  BalanceCall(BalancePlan plan, Sink sink);

  BalanceCall(const BalanceCall&) = delete;
  BalanceCall& operator=(const BalanceCall&) = delete;

  const BalancePlan& plan() const { return plan_; }

  // Answers the items the plan failed already (and finishes the call when
  // that was all of them). Call once, before the readers start.
  void Start();

  // A chain's block, reported with the first results read at it.
  void AddBlock(v1::BlockRef block);

  // Results of plan items, each index once.
  void Complete(std::vector<ItemResult> results);

  // The same error for every listed item (a chain whose head could not be
  // resolved, an endpoint set with no candidate).
  void Fail(const std::vector<size_t>& indices, const v1::Error& error);

  // The client's deadline: no upstream request is worth waiting for past
  // it. InfiniteFuture when the client set none.
  absl::Time deadline() const { return deadline_; }
  void set_deadline(absl::Time deadline) { deadline_ = deadline; }

  // True once the client is gone: readers may stop asking upstreams.
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  // Records `results` and the blocks not yet sent; under mu_.
  void CompleteLocked(std::vector<ItemResult> results);

  const BalancePlan plan_;
  const bool streaming_;
  std::atomic<bool> cancelled_{false};
  // Set before the readers start; read-only after.
  absl::Time deadline_ = absl::InfiniteFuture();

  std::mutex mu_;
  Sink sink_;                                // guarded by mu_
  std::vector<v1::BalanceResult> results_;   // guarded by mu_, plan order
  std::vector<bool> answered_;               // guarded by mu_
  size_t answered_count_ = 0;                // guarded by mu_
  std::vector<v1::BlockRef> blocks_;         // guarded by mu_, every block
  std::vector<v1::BlockRef> unsent_blocks_;  // guarded by mu_, streaming
  bool done_ = false;                        // guarded by mu_
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_BALANCE_CALL_H_
