#include "services/scheduler/runs/refresh_prices_run.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace coffer::scheduler {

std::shared_ptr<RefreshPricesRun> RefreshPricesRun::Start(RunStorage* storage, RunFetcher* fetcher,
                                                          RefreshPricesRunOptions options,
                                                          ProgressCallback progress,
                                                          RunLifecycle::DoneCallback done) {
  auto run = std::make_shared<RefreshPricesRun>(storage, fetcher, std::move(options),
                                                std::move(progress), std::move(done));
  run->ListAssets();
  return run;
}

RefreshPricesRun::RefreshPricesRun(RunStorage* storage, RunFetcher* fetcher,
                                   RefreshPricesRunOptions options, ProgressCallback progress,
                                   RunLifecycle::DoneCallback done)
    : storage_(storage),
      fetcher_(fetcher),
      options_(std::move(options)),
      progress_(std::move(progress)),
      lifecycle_(std::move(done)) {}

void RefreshPricesRun::Cancel(v1::Error reason) {
  lifecycle_.CancelRun(std::move(reason), [this] { return Outcome(v1::RUN_STATE_CANCELLED); });
}

bool RefreshPricesRun::Answered() {
  return lifecycle_.Answered([this] { return Outcome(v1::RUN_STATE_CANCELLED); });
}

RunOutcome RefreshPricesRun::Outcome(v1::RunState state) const {
  std::lock_guard<std::mutex> lock(mutex_);
  RunOutcome outcome;
  outcome.state = state;
  outcome.counts.set_items_total(items_);
  outcome.counts.set_items_failed(tally_.failed());
  outcome.counts.set_items_succeeded(written_);
  outcome.counts.set_batches(queries_.size());
  outcome.error_summary = tally_.Summary();
  return outcome;
}

void RefreshPricesRun::ListAssets() {
  if (!lifecycle_.StartCall()) return;
  ReportProgress("listing held assets");
  // No quote currency: totals only, which is what says what is held.
  storage_->GetPortfolio(
      v1::GetPortfolioRequest(),
      [self = shared_from_this()](absl::StatusOr<v1::GetPortfolioResponse> reply) mutable {
        self->OnAssets(std::move(reply));
      });
}

void RefreshPricesRun::OnAssets(absl::StatusOr<v1::GetPortfolioResponse> reply) {
  if (!Answered()) return;
  if (!reply.ok()) {
    RunOutcome outcome = Outcome(v1::RUN_STATE_FAILED);
    outcome.error = ErrorOfStatus(reply.status(), "listing held assets", "storage");
    return lifecycle_.Finish(std::move(outcome));
  }
  std::set<std::string> assets;
  for (const v1::PortfolioAsset& asset : reply->assets()) assets.insert(asset.asset_id());
  for (const std::string& asset : options_.params.extra_asset_ids()) assets.insert(asset);
  std::vector<std::string> quotes(options_.params.quote_currencies().begin(),
                                  options_.params.quote_currencies().end());
  if (quotes.empty()) quotes.push_back("usd");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::vector<std::string> ordered(assets.begin(), assets.end());
    for (const std::string& quote : quotes) {
      for (size_t first = 0; first < ordered.size(); first += kMaxAssetsPerPriceQuery) {
        v1::QueryPricesRequest& query = queries_.emplace_back();
        query.set_quote_currency(quote);
        query.set_bypass_cache(options_.forced || options_.params.bypass_cache());
        const size_t end = std::min(ordered.size(), first + kMaxAssetsPerPriceQuery);
        for (size_t i = first; i < end; ++i) query.add_asset_ids(ordered[i]);
      }
    }
    items_ = assets.size() * quotes.size();
  }
  Pump();
}

void RefreshPricesRun::Pump() {
  std::vector<size_t> send;
  bool write = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (queries_out_ < kPriceQueriesInFlight && next_query_ < queries_.size() &&
           lifecycle_.StartCall()) {
      send.push_back(next_query_++);
      ++queries_out_;
    }
    write = queries_out_ == 0 && next_query_ == queries_.size() && send.empty();
  }
  ReportProgress("fetching prices");
  for (size_t query : send) {
    fetcher_->QueryPrices(
        queries_[query],
        [self = shared_from_this(), query](absl::StatusOr<v1::QueryPricesResponse> reply) mutable {
          self->OnPrices(query, std::move(reply));
        });
  }
  if (write) Write(0);
}

void RefreshPricesRun::OnPrices(size_t query, absl::StatusOr<v1::QueryPricesResponse> reply) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --queries_out_;
    ++queries_done_;
    const v1::QueryPricesRequest& request = queries_[query];
    if (!reply.ok()) {
      const v1::Error error = ErrorOfStatus(reply.status(), "reading prices", "fetcher");
      for (const std::string& asset : request.asset_ids()) tally_.Add(error, ChainOfAsset(asset));
    } else {
      for (v1::PriceResult& result : *reply->mutable_results()) {
        if (result.has_price()) {
          prices_.push_back(std::move(*result.mutable_price()));
        } else {
          tally_.Add(result.error(), ChainOfAsset(result.asset_id()));
        }
      }
    }
  }
  if (!Answered()) return;
  Pump();
}

void RefreshPricesRun::Write(size_t first) {
  v1::WritePricesRequest request;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (first >= prices_.size()) {
      // Everything written (or nothing to write).
    } else {
      *request.mutable_fence() = options_.fence;
      const size_t end = std::min(prices_.size(), first + kMaxPricesPerWrite);
      for (size_t i = first; i < end; ++i) *request.add_prices() = prices_[i];
    }
  }
  if (request.prices_size() == 0) {
    RunOutcome outcome = Outcome(v1::RUN_STATE_UNSPECIFIED);
    outcome.state = StateOfItems(outcome.counts.items_succeeded(), outcome.counts.items_failed());
    return lifecycle_.Finish(std::move(outcome));
  }
  if (!lifecycle_.StartCall()) return;  // cancelled: nothing more is written
  ReportProgress("writing prices");
  const size_t count = static_cast<size_t>(request.prices_size());
  storage_->WritePrices(request, [self = shared_from_this(), first,
                                  count](absl::StatusOr<v1::WritePricesResponse> reply) mutable {
    self->OnWritten(first, count, std::move(reply));
  });
}

void RefreshPricesRun::OnWritten(size_t first, size_t count,
                                 absl::StatusOr<v1::WritePricesResponse> reply) {
  if (!Answered()) return;
  if (!reply.ok()) {
    RunOutcome outcome = Outcome(v1::RUN_STATE_FAILED);
    outcome.error = ErrorOfStatus(reply.status(), "writing prices", "storage");
    return lifecycle_.Finish(std::move(outcome));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    written_ += reply->written();
    for (const v1::RejectedPrice& rejected : reply->rejected()) {
      const size_t index = first + rejected.index();
      tally_.Add(rejected.error(),
                 index < first + count ? ChainOfAsset(prices_[index].asset_id()) : std::string());
    }
  }
  Write(first + count);
}

void RefreshPricesRun::ReportProgress(const char* stage) {
  if (!progress_) return;
  v1::Progress progress;
  progress.set_stage(stage);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    progress.set_unit("price queries");
    progress.set_done(queries_done_);
    progress.set_total(queries_.size());
    progress.set_failed(tally_.failed());
  }
  std::lock_guard<std::mutex> lock(progress_mutex_);
  progress_(progress);
}

}  // namespace coffer::scheduler
