// One run of a refresh_prices task: the assets held in the latest balances
// (and the params' extra ones) priced through the fetcher in every quote
// currency asked, and the prices written to storage.
//
//   auto run = RefreshPricesRun::Start(storage, fetcher,
//                                      {.fence = fence, .params = task.refresh_prices()},
//                                      progress, [](RunOutcome outcome) { ... });
//   run->Cancel(reason);
//
// Stages, each asynchronous:
//  1. Assets: Storage.GetPortfolio without a quote currency lists the
//     assets held (non-zero totals); params.extra_asset_ids are added.
//  2. Prices: Fetcher.QueryPrices per quote currency (params, default
//     "usd") and per 1,000 assets, at most 4 calls at once.
//  3. Write: Storage.WritePrices of every price got, fenced, 10,000 a call.
// Items are (asset, quote currency) pairs. A pair the fetcher could not
// price (no mapping, source down) is a failed item, grouped in the error
// summary by code, upstream and chain; the others are written. SUCCEEDED,
// PARTIAL or FAILED by StateOfItems; nothing held and nothing extra is a
// success with no items. A failure to list the assets or to write fails the
// run; a cancel stops new calls and, before the write, writes nothing.
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_REFRESH_PRICES_RUN_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_REFRESH_PRICES_RUN_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

#include "coffer/v1/fetcher.pb.h"
#include "coffer/v1/storage.pb.h"
#include "services/scheduler/runs/run.h"
#include "services/scheduler/runs/run_backends.h"
#include "services/scheduler/runs/run_lifecycle.h"
#include "services/scheduler/runs/run_outcome.h"

namespace coffer::scheduler {

// Limits of the calls (fetcher.proto, storage.proto).
inline constexpr size_t kMaxAssetsPerPriceQuery = 1000;
inline constexpr size_t kMaxPricesPerWrite = 10000;
inline constexpr int kPriceQueriesInFlight = 4;

struct RefreshPricesRunOptions {
  v1::Fence fence;
  v1::RefreshPricesParams params;
  // A forced trigger: bypass the fetcher's price cache.
  bool forced = false;
};

class RefreshPricesRun : public Run, public std::enable_shared_from_this<RefreshPricesRun> {
 public:
  using ProgressCallback = absl::AnyInvocable<void(const v1::Progress&)>;

  // `storage` and `fetcher` must outlive the run (until `done` ran).
  static std::shared_ptr<RefreshPricesRun> Start(RunStorage* storage, RunFetcher* fetcher,
                                                 RefreshPricesRunOptions options,
                                                 ProgressCallback progress,
                                                 RunLifecycle::DoneCallback done);

  // Stops the run: no new calls; ends CANCELLED with `reason` once the
  // outstanding ones answered (a write already sent is reported as done).
  void Cancel(v1::Error reason) override;

  // Use Start.
  RefreshPricesRun(RunStorage* storage, RunFetcher* fetcher, RefreshPricesRunOptions options,
                   ProgressCallback progress, RunLifecycle::DoneCallback done);

 private:
  void ListAssets();
  void OnAssets(absl::StatusOr<v1::GetPortfolioResponse> reply);
  // Sends price queries while there is room; writes after the last answer.
  void Pump();
  void OnPrices(size_t query, absl::StatusOr<v1::QueryPricesResponse> reply);
  // Writes the prices got from `first` on, one call of at most
  // kMaxPricesPerWrite after another.
  void Write(size_t first);
  void OnWritten(size_t first, size_t count, absl::StatusOr<v1::WritePricesResponse> reply);
  bool Answered();
  RunOutcome Outcome(v1::RunState state) const;
  void ReportProgress(const char* stage);

  RunStorage* const storage_;
  RunFetcher* const fetcher_;
  const RefreshPricesRunOptions options_;
  std::mutex progress_mutex_;
  ProgressCallback progress_;
  RunLifecycle lifecycle_;

  mutable std::mutex mutex_;
  // One (quote currency, assets) per QueryPrices call.
  std::vector<v1::QueryPricesRequest> queries_;
  size_t next_query_ = 0;
  int queries_out_ = 0;
  size_t queries_done_ = 0;
  uint64_t items_ = 0;
  std::vector<v1::Price> prices_;
  uint64_t written_ = 0;
  ErrorTally tally_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_REFRESH_PRICES_RUN_H_
