#include "services/scheduler/runs/refresh_balances_run.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#include "common/config/proto_timestamp.h"
#include "common/metrics/histogram.h"
#include "common/metrics/registry.h"

namespace coffer::scheduler {
namespace {

// The first page small, so that the first batches go out soon; the rest
// large, as each page is a round trip to storage the listing waits for:
// 10,000 accounts took 0.056-0.11 s to list in pages of 1,000 and
// 0.03-0.05 s in one of 1,000 and two of 4,500 (tools/bench/refresh).
constexpr int32_t kFirstAccountsPage = 1000;
constexpr int32_t kAccountsPerPage = 5000;

using SteadyClock = std::chrono::steady_clock;

// Time per stage of every run in this process (see the header). Looked up
// once: Registry::Get* takes a lock.
struct StageHistograms {
  metrics::Histogram& list_accounts;
  metrics::Histogram& fetch;
  metrics::Histogram& write_parts;
  metrics::Histogram& write;
  metrics::Histogram& collect;
};

const StageHistograms& Stages() {
  static const StageHistograms stages = [] {
    metrics::Registry& registry = metrics::Registry::Global();
    const auto stage = [&registry](const char* name) -> metrics::Histogram& {
      return registry.GetHistogram(
          "coffer_scheduler_run_stage_seconds", {{"kind", "refresh_balances"}, {"stage", name}},
          "Time a run spent in each stage: fetch (ResolveBlocks and the QueryBalances batches), "
          "list_accounts (overlaps fetch), collect (the run's start to its last batch: both, "
          "overlapped), write_parts (WriteSnapshotPart calls in flight, summed; overlaps "
          "fetch), write (the committing WriteSnapshot).");
    };
    return StageHistograms{stage("list_accounts"), stage("fetch"), stage("write_parts"),
                           stage("write"), stage("collect")};
  }();
  return stages;
}

void Record(metrics::Histogram& histogram, SteadyClock::duration elapsed) {
  histogram.Record(absl::FromChrono(elapsed));
}

bool PinsTag(const v1::RefreshBalancesParams& params) {
  return params.block_tag() != v1::BLOCK_TAG_UNSPECIFIED &&
         params.block_tag() != v1::BLOCK_TAG_LATEST;
}

}  // namespace

std::shared_ptr<RefreshBalancesRun> RefreshBalancesRun::Start(RunStorage* storage,
                                                              RunFetcher* fetcher,
                                                              RefreshBalancesRunOptions options,
                                                              ProgressCallback progress,
                                                              DoneCallback done) {
  auto run = std::make_shared<RefreshBalancesRun>(storage, fetcher, std::move(options),
                                                  std::move(progress), std::move(done));
  // The blocks depend on the fetcher's configured chains, not on the
  // accounts: both start at once, and no batch goes out before the blocks
  // are pinned (Pump).
  run->ResolveBlocks(/*with_tags=*/false);
  run->ListAccounts("");
  return run;
}

RefreshBalancesRun::RefreshBalancesRun(RunStorage* storage, RunFetcher* fetcher,
                                       RefreshBalancesRunOptions options, ProgressCallback progress,
                                       DoneCallback done)
    : storage_(storage),
      fetcher_(fetcher),
      options_(std::move(options)),
      batch_size_(options_.params.batch_size() == 0 ? kDefaultRefreshBatchSize
                                                    : options_.params.batch_size()),
      batches_in_flight_(std::min(options_.params.max_batches_in_flight() == 0
                                      ? kDefaultRefreshBatchesInFlight
                                      : options_.params.max_batches_in_flight(),
                                  kMaxRefreshBatchesInFlight)),
      part_items_(std::max<size_t>(options_.snapshot_part_items, 1)),
      bypass_cache_(options_.forced || options_.params.bypass_cache()),
      progress_(std::move(progress)),
      lifecycle_(std::move(done)) {}

void RefreshBalancesRun::Cancel(v1::Error reason) {
  lifecycle_.CancelRun(std::move(reason), [this] { return Outcome(v1::RUN_STATE_CANCELLED); });
}

bool RefreshBalancesRun::Answered() {
  switch (lifecycle_.EndCall()) {
    case RunLifecycle::After::kGoOn:
      return true;
    case RunLifecycle::After::kStop:
      return false;
    case RunLifecycle::After::kFinishCancelled:
      break;
  }
  // The last answer of a run that was cancelled or is failing.
  std::optional<v1::Error> failure;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failure = failure_;
  }
  if (failure.has_value()) {
    RunOutcome outcome = Outcome(v1::RUN_STATE_FAILED);
    outcome.error = *std::move(failure);
    Finish(std::move(outcome));
  } else {
    lifecycle_.FinishCancelled(Outcome(v1::RUN_STATE_CANCELLED));
  }
  return false;
}

RunOutcome RefreshBalancesRun::Outcome(v1::RunState state) const {
  std::lock_guard<std::mutex> lock(mutex_);
  RunOutcome outcome;
  outcome.state = state;
  outcome.counts.set_items_total(succeeded_ + tally_.failed());
  outcome.counts.set_items_succeeded(succeeded_);
  outcome.counts.set_items_failed(tally_.failed());
  outcome.counts.set_accounts(accounts_.size());
  outcome.counts.set_batches(batches_);
  outcome.error_summary = tally_.Summary();
  return outcome;
}

void RefreshBalancesRun::FailWith(absl::Status status, const char* what, const char* upstream) {
  RunOutcome outcome = Outcome(v1::RUN_STATE_FAILED);
  outcome.error = ErrorOfStatus(status, what, upstream);
  Finish(std::move(outcome));
}

void RefreshBalancesRun::FailAfterCalls(v1::Error error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (ended_) return;
    ended_ = true;
    failure_ = error;
  }
  // The lifecycle's cancel stops new calls and makes the last answer end
  // the run (Answered), as FAILED here rather than CANCELLED. False when
  // calls are out, or when a real cancel came first: that run ends when
  // its last answer comes, FAILED too, since it did fail.
  if (!lifecycle_.Cancel(error)) return;
  RunOutcome outcome = Outcome(v1::RUN_STATE_FAILED);
  outcome.error = std::move(error);
  Finish(std::move(outcome));
}

void RefreshBalancesRun::Finish(RunOutcome outcome) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
  }
  lifecycle_.Finish(std::move(outcome));
}

void RefreshBalancesRun::ResolveBlocks(bool with_tags) {
  v1::ResolveBlocksRequest request;
  request.set_bypass_cache(bypass_cache_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (with_tags) {
      for (const std::string& chain_id : tagged_chains_) {
        v1::BlockSelector* selector = request.add_blocks();
        selector->set_chain_id(chain_id);
        selector->set_tag(options_.params.block_tag());
      }
    }
  }
  if (!lifecycle_.StartCall()) return;
  if (!with_tags) {
    std::lock_guard<std::mutex> lock(mutex_);
    resolve_started_ = SteadyClock::now();
  }
  ReportProgress();
  fetcher_->ResolveBlocks(request, [self = shared_from_this(), with_tags](
                                       absl::StatusOr<v1::ResolveBlocksResponse> reply) mutable {
    self->OnBlocks(with_tags, std::move(reply));
  });
}

void RefreshBalancesRun::OnBlocks(bool with_tags, absl::StatusOr<v1::ResolveBlocksResponse> reply) {
  if (!Answered()) return;
  if (!reply.ok()) {
    return FailAfterCalls(ErrorOfStatus(reply.status(), "resolving blocks", "fetcher"));
  }
  std::vector<std::string> chains;
  std::vector<v1::BlockRef> resolved;
  std::optional<v1::Error> first_error;
  for (v1::BlockResult& result : *reply->mutable_results()) {
    chains.push_back(result.chain_id());
    if (result.has_block()) {
      resolved.push_back(std::move(*result.mutable_block()));
    } else if (!first_error.has_value()) {
      first_error = result.error();
    }
  }
  if (!with_tags && PinsTag(options_.params)) {
    // The first answer listed the configured chains; now their tagged blocks.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tagged_chains_ = std::move(chains);
    }
    return ResolveBlocks(/*with_tags=*/true);
  }
  if (resolved.empty() && first_error.has_value()) {
    // Every configured chain failed: nothing can be read at a block.
    v1::Error error = *first_error;
    error.set_message(absl::StrCat("resolving blocks: no chain's block resolved; first: ",
                                   first_error->message()));
    return FailAfterCalls(std::move(error));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A chain that did not resolve has no entry: each batch reads it at
    // its head, and its items say which block.
    blocks_ = std::move(resolved);
    blocks_resolved_ = true;
    resolve_time_ = SteadyClock::now() - resolve_started_;
  }
  Pump();
}

void RefreshBalancesRun::ListAccounts(std::string page_token) {
  v1::ListAccountsRequest request;
  request.set_chain_id(options_.params.chain_id());
  *request.mutable_tags() = options_.params.tags();
  // OnAccounts reads only the ids and asset lists: storage need not build
  // the rest of 10,000 accounts.
  request.set_view(v1::ACCOUNT_VIEW_IDS);
  request.mutable_page()->set_page_size(page_token.empty() ? kFirstAccountsPage : kAccountsPerPage);
  const bool first_page = page_token.empty();
  request.mutable_page()->set_page_token(std::move(page_token));
  if (!lifecycle_.StartCall()) return;
  if (first_page) {
    std::lock_guard<std::mutex> lock(mutex_);
    list_started_ = SteadyClock::now();
  }
  ReportProgress();
  storage_->ListAccounts(
      request, [self = shared_from_this()](absl::StatusOr<v1::ListAccountsResponse> reply) mutable {
        self->OnAccounts(std::move(reply));
      });
}

void RefreshBalancesRun::OnAccounts(absl::StatusOr<v1::ListAccountsResponse> reply) {
  if (!Answered()) return;
  if (!reply.ok()) {
    return FailAfterCalls(ErrorOfStatus(reply.status(), "listing accounts", "storage"));
  }
  const bool more = !reply->page().next_page_token().empty();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (v1::Account& account : *reply->mutable_accounts()) {
      // An account's own asset list, when it has one, is what it tracks
      // (storage.proto, Account.asset_ids); empty: the fetcher's assets.
      v1::BalanceQuery& query = accounts_.emplace_back();
      query.set_account_id(std::move(*account.mutable_account_id()));
      *query.mutable_asset_ids() = std::move(*account.mutable_asset_ids());
    }
    if (!more) {
      listing_ended_ = true;
      Record(Stages().list_accounts, SteadyClock::now() - list_started_);
    }
  }
  // The next page first: storage works on it while this page's batches go
  // out.
  if (more) ListAccounts(std::move(*reply->mutable_page()->mutable_next_page_token()));
  Pump();
}

void RefreshBalancesRun::Pump() {
  struct Batch {
    size_t index;
    size_t first;
    size_t count;
    v1::QueryBalancesRequest request;
  };
  std::vector<Batch> batches;
  std::optional<v1::WriteSnapshotPartRequest> part;
  std::optional<v1::Error> too_many;
  bool commit = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Every batch reads at the pinned blocks: none before they are known.
    if (ended_ || writing_ || !blocks_resolved_) return;
    // Items already past the snapshot's limit fail the run now: reading on
    // would only make more.
    const size_t read = part_items_sent_ + waiting_items_;
    const bool over_limit = read > kMaxSnapshotItems;
    while (!over_limit && batches_out_ < batches_in_flight_) {
      // A full batch, or the last one once the listing ended.
      const size_t listed = accounts_.size() - next_account_;
      if (listed == 0 || (listed < batch_size_ && !listing_ended_)) break;
      if (!lifecycle_.StartCall()) break;
      if (!fetch_started_.has_value()) fetch_started_ = SteadyClock::now();
      Batch& batch = batches.emplace_back();
      batch.index = batch_items_.size();
      batch_items_.emplace_back();
      batch.first = next_account_;
      batch.count = std::min<size_t>(batch_size_, listed);
      next_account_ += batch.count;
      for (size_t i = batch.first; i < batch.first + batch.count; ++i) {
        *batch.request.add_queries() = accounts_[i];
      }
      for (const v1::BlockRef& block : blocks_) {
        v1::BlockSelector* selector = batch.request.add_blocks();
        selector->set_chain_id(block.chain_id());
        selector->set_number(block.number());
      }
      batch.request.set_bypass_cache(bypass_cache_);
      ++batches_out_;
      ++batches_;
    }
    const bool fetched = listing_ended_ && batches_out_ == 0 && next_account_ == accounts_.size();
    if (fetched && !fetched_) {
      fetched_ = true;
      SteadyClock::duration fetch = resolve_time_;
      if (fetch_started_.has_value()) fetch += SteadyClock::now() - *fetch_started_;
      Record(Stages().fetch, fetch);
      Record(Stages().collect, SteadyClock::now() - resolve_started_);
    }
    if (over_limit) {
      v1::Error& error = too_many.emplace();
      error.set_code(v1::Error::RESOURCE_EXHAUSTED);
      error.set_message(absl::StrCat(
          "the run read ", read, " items", fetched ? "" : " and was still reading",
          "; a snapshot holds at most ", kMaxSnapshotItems, ": select fewer accounts"));
      error.set_upstream("scheduler");
    } else if (!fetched) {
      // Once the fetch is over a part would only delay the commit, which
      // takes what waits in the same round trip.
      if (!part_in_flight_ && waiting_items_ >= part_items_ && parts_sent_ < kMaxSnapshotParts &&
          lifecycle_.StartCall()) {
        part = TakePart();
      }
    } else if (!part_in_flight_) {
      writing_ = true;
      commit = true;
      if (parts_sent_ > 0) Record(Stages().write_parts, parts_time_);
    }
  }
  if (too_many.has_value()) return FailAfterCalls(*std::move(too_many));
  ReportProgress();
  for (Batch& batch : batches) {
    fetcher_->QueryBalances(
        batch.request,
        [self = shared_from_this(), index = batch.index, first = batch.first,
         count = batch.count](absl::StatusOr<v1::QueryBalancesResponse> reply) mutable {
          self->OnBatch(index, first, count, std::move(reply));
        });
  }
  if (part.has_value()) {
    storage_->WriteSnapshotPart(*part,
                                [self = shared_from_this(), number = part->part()](
                                    absl::StatusOr<v1::WriteSnapshotPartResponse> reply) mutable {
                                  self->OnPartWritten(number, std::move(reply));
                                });
  }
  if (commit) WriteSnapshot();
}

void RefreshBalancesRun::OnBatch(size_t index, size_t first, size_t count,
                                 absl::StatusOr<v1::QueryBalancesResponse> reply) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --batches_out_;
    // A failing run drops what comes in: nothing of it is written.
    if (!ended_) {
      accounts_done_ += count;
      if (!reply.ok()) {
        // The batch's assets are unknown: one failed item per account.
        const v1::Error error = ErrorOfStatus(reply.status(), "reading balances", "fetcher");
        for (size_t i = first; i < first + count; ++i)
          tally_.Add(error, ChainOfAccount(accounts_[i].account_id()));
      } else {
        std::vector<v1::BalanceItem>& items = batch_items_[index];
        items.reserve(reply->results_size());
        waiting_batches_.push_back(index);
        for (v1::BalanceResult& result : *reply->mutable_results()) {
          v1::BalanceItem& item = *result.mutable_balance();
          if (item.has_error()) {
            tally_.Add(item.error(), ChainOfAccount(item.account_id()));
            // Without an asset (an account the fetcher cannot read at all)
            // the item has no place in a snapshot.
            if (item.asset_id().empty()) continue;
          } else {
            ++succeeded_;
          }
          items.push_back(std::move(item));
        }
        waiting_items_ += items.size();
      }
    }
  }
  if (!Answered()) return;
  Pump();
}

v1::WriteSnapshotPartRequest RefreshBalancesRun::TakePart() {
  v1::WriteSnapshotPartRequest request;
  *request.mutable_fence() = options_.fence;
  request.set_idempotency_key(options_.run_id);
  request.set_part(parts_sent_);
  *request.mutable_taken_at() = config::TimeToProto(options_.taken_at);
  request.mutable_items()->Reserve(static_cast<int>(waiting_items_));
  // In the listing's order, as the commit's.
  std::sort(waiting_batches_.begin(), waiting_batches_.end());
  for (size_t index : waiting_batches_) {
    for (v1::BalanceItem& item : batch_items_[index]) *request.add_items() = std::move(item);
    std::vector<v1::BalanceItem>().swap(batch_items_[index]);  // storage has them now
  }
  waiting_batches_.clear();
  ++parts_sent_;
  part_items_sent_ += waiting_items_;
  waiting_items_ = 0;
  part_in_flight_ = true;
  part_started_ = SteadyClock::now();
  return request;
}

void RefreshBalancesRun::OnPartWritten(uint32_t part,
                                       absl::StatusOr<v1::WriteSnapshotPartResponse> reply) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    parts_time_ += SteadyClock::now() - part_started_;
    // A failed part stays in flight: no part and no commit follows it, even
    // from a batch answering on another thread before the run fails below.
    if (reply.ok()) part_in_flight_ = false;
  }
  // Failed before the answer is counted, so no call can start in between
  // and the run ends FAILED when its last call answered; after a cancel,
  // CANCELLED as for any other answer.
  if (!reply.ok() && !lifecycle_.cancelled()) {
    FailAfterCalls(
        ErrorOfStatus(reply.status(), absl::StrCat("writing snapshot part ", part), "storage"));
  }
  if (!Answered()) return;
  Pump();
}

void RefreshBalancesRun::WriteSnapshot() {
  if (!lifecycle_.StartCall()) return;  // cancelled: nothing is committed
  v1::WriteSnapshotRequest request;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    write_started_ = SteadyClock::now();
    *request.mutable_fence() = options_.fence;
    request.set_idempotency_key(options_.run_id);
    request.set_run_id(options_.run_id);
    *request.mutable_taken_at() = config::TimeToProto(options_.taken_at);
    request.set_parts(parts_sent_);
    for (const v1::BlockRef& block : blocks_) *request.add_blocks() = block;
    // Batches sent in parts are empty by now.
    request.mutable_items()->Reserve(static_cast<int>(waiting_items_));
    for (std::vector<v1::BalanceItem>& batch : batch_items_) {
      for (v1::BalanceItem& item : batch) *request.add_items() = std::move(item);
    }
    batch_items_.clear();
    waiting_batches_.clear();
    waiting_items_ = 0;
  }
  ReportProgress();
  storage_->WriteSnapshot(request, [self = shared_from_this()](
                                       absl::StatusOr<v1::WriteSnapshotResponse> reply) mutable {
    self->OnWritten(std::move(reply));
  });
}

void RefreshBalancesRun::OnWritten(absl::StatusOr<v1::WriteSnapshotResponse> reply) {
  // A cancel that came while the snapshot was being written is too late:
  // the outcome says what was written.
  lifecycle_.EndCall();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Record(Stages().write, SteadyClock::now() - write_started_);
  }
  // Nothing else of the run is out by now: it ends here.
  if (!reply.ok()) return FailWith(reply.status(), "writing the snapshot", "storage");
  RunOutcome outcome = Outcome(v1::RUN_STATE_UNSPECIFIED);
  outcome.state = StateOfItems(outcome.counts.items_succeeded(), outcome.counts.items_failed());
  outcome.snapshot_id = reply->snapshot().snapshot_id();
  Finish(std::move(outcome));
}

void RefreshBalancesRun::ReportProgress() {
  if (!progress_) return;
  v1::Progress progress;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (ended_) return;
    if (writing_) {
      progress.set_stage("writing snapshot");
    } else if (!blocks_resolved_) {
      progress.set_stage("resolving blocks");
    } else if (!listing_ended_) {
      // Batches may be out already; the total is not known yet.
      progress.set_stage("listing accounts");
    } else {
      progress.set_stage("fetching");
    }
    progress.set_unit("accounts");
    progress.set_done(accounts_done_);
    // 0 while not known yet (common.proto's Progress).
    progress.set_total(listing_ended_ ? accounts_.size() : 0);
    progress.set_failed(tally_.failed());
  }
  std::lock_guard<std::mutex> lock(progress_mutex_);
  progress_(progress);
}

}  // namespace coffer::scheduler
