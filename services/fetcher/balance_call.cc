#include "services/fetcher/balance_call.h"

#include <utility>

#include <spdlog/spdlog.h>

namespace coffer::fetcher {

BalanceCall::BalanceCall(BalancePlan plan, Sink sink)
    : plan_(std::move(plan)),
      streaming_(sink.on_message != nullptr),
      sink_(std::move(sink)),
      results_(plan_.items.size()),
      answered_(plan_.items.size(), false) {}

void BalanceCall::Start() {
  std::vector<ItemResult> failed;
  for (size_t i = 0; i < plan_.items.size(); ++i) {
    const PlannedItem& planned = plan_.items[i];
    if (!planned.error.has_value()) continue;
    ItemResult result;
    result.index = i;
    *result.item.mutable_error() = *planned.error;
    failed.push_back(std::move(result));
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Even with nothing failed, a stream opens with its total.
  CompleteLocked(std::move(failed));
}

void BalanceCall::AddBlock(v1::BlockRef block) {
  std::lock_guard<std::mutex> lock(mu_);
  blocks_.push_back(block);
  if (streaming_) unsent_blocks_.push_back(std::move(block));
}

void BalanceCall::Complete(std::vector<ItemResult> results) {
  std::lock_guard<std::mutex> lock(mu_);
  CompleteLocked(std::move(results));
}

void BalanceCall::Fail(const std::vector<size_t>& indices, const v1::Error& error) {
  std::vector<ItemResult> results;
  results.reserve(indices.size());
  for (size_t index : indices) {
    ItemResult result;
    result.index = index;
    *result.item.mutable_error() = error;
    results.push_back(std::move(result));
  }
  Complete(std::move(results));
}

void BalanceCall::CompleteLocked(std::vector<ItemResult> results) {
  if (done_) return;
  v1::StreamBalancesResponse message;
  for (ItemResult& result : results) {
    if (result.index >= plan_.items.size() || answered_[result.index]) {
      spdlog::error("fetcher: item {} of a balance call answered twice or out of range (a bug)",
                    result.index);
      continue;
    }
    const PlannedItem& planned = plan_.items[result.index];
    answered_[result.index] = true;
    ++answered_count_;
    v1::BalanceResult& answer = results_[result.index];
    answer.set_query_index(planned.query_index);
    *answer.mutable_balance() = std::move(result.item);
    // The plan's normal forms are what the answer names, whatever a reader
    // filled in.
    answer.mutable_balance()->set_account_id(planned.account_id);
    answer.mutable_balance()->set_asset_id(planned.asset_id);
    answer.set_cached(result.cached);
    if (streaming_) *message.add_results() = answer;
  }
  const bool finished = answered_count_ == plan_.items.size();
  if (streaming_ && sink_.on_message != nullptr) {
    for (v1::BlockRef& block : unsent_blocks_) *message.add_blocks() = std::move(block);
    unsent_blocks_.clear();
    v1::Progress* progress = message.mutable_progress();
    progress->set_stage(finished ? "done" : "fetching");
    progress->set_done(answered_count_);
    progress->set_total(plan_.items.size());
    progress->set_unit("items");
    if (!sink_.on_message(std::move(message))) Cancel();
  }
  if (!finished) return;
  done_ = true;
  v1::QueryBalancesResponse response;
  if (!streaming_) {
    response.mutable_results()->Reserve(static_cast<int>(results_.size()));
    for (v1::BalanceResult& answer : results_) *response.add_results() = std::move(answer);
    for (v1::BlockRef& block : blocks_) *response.add_blocks() = std::move(block);
  }
  results_.clear();
  if (sink_.on_done != nullptr) sink_.on_done(std::move(response));
}

}  // namespace coffer::fetcher
