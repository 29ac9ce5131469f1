#include "services/fetcher/chains/endpoint_set.h"

#include <algorithm>
#include <utility>

namespace coffer::fetcher {
namespace {

// Doubling stops here long before any cap matters; it only keeps the shift
// defined.
constexpr int kMaxDoublings = 20;

}  // namespace

EndpointSet::EndpointSet(std::vector<EndpointOptions> endpoints) : options_(std::move(endpoints)) {
  states_.reserve(options_.size());
  for (const EndpointOptions& options : options_) {
    State state;
    state.batch_size = std::max<size_t>(1, options.batch_size);
    states_.push_back(std::move(state));
  }
}

std::vector<size_t> EndpointSet::Candidates(absl::Time now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<size_t> healthy;
  std::vector<size_t> unhealthy;
  for (size_t i = 0; i < states_.size(); ++i) {
    const State& state = states_[i];
    if (state.cooldown_until > now) continue;
    (state.probe_failed ? unhealthy : healthy).push_back(i);
  }
  healthy.insert(healthy.end(), unhealthy.begin(), unhealthy.end());
  return healthy;
}

size_t EndpointSet::BatchSize(size_t index) const {
  std::lock_guard<std::mutex> lock(mu_);
  return states_[index].batch_size;
}

void EndpointSet::ReportSuccess(size_t index, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  State& state = states_[index];
  state.consecutive_failures = 0;
  state.cooldown_until = absl::InfinitePast();
  state.last_success_at = now;
  // Real traffic answered: whatever an earlier probe said is out of date.
  state.probe_failed = false;
}

void EndpointSet::ReportFailure(size_t index, const absl::Status& error, absl::Time now,
                                std::optional<absl::Duration> retry_after) {
  std::lock_guard<std::mutex> lock(mu_);
  const EndpointOptions& options = options_[index];
  State& state = states_[index];
  const int doublings = std::min(state.consecutive_failures, kMaxDoublings);
  ++state.consecutive_failures;
  absl::Duration cooldown = std::min(options.cooldown * (int64_t{1} << doublings),
                                     std::max(options.max_cooldown, options.cooldown));
  // An upstream that said when to come back is believed, even past the cap:
  // asking earlier only earns another 429.
  if (retry_after.has_value()) cooldown = std::max(cooldown, *retry_after);
  state.cooldown_until = std::max(state.cooldown_until, now + cooldown);
  state.last_error = error;
  last_error_ = error;
}

void EndpointSet::ReportBatchTooLarge(size_t index, size_t refused_size) {
  std::lock_guard<std::mutex> lock(mu_);
  State& state = states_[index];
  state.batch_size = std::max<size_t>(1, std::min(state.batch_size, refused_size / 2));
}

void EndpointSet::ReportProbe(size_t index, const absl::Status& outcome, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  State& state = states_[index];
  state.probe_failed = !outcome.ok();
  if (outcome.ok()) {
    state.last_success_at = now;
  } else {
    state.last_error = outcome;
    last_error_ = outcome;
  }
}

EndpointHealth EndpointSet::Health(size_t index, absl::Time now) const {
  std::lock_guard<std::mutex> lock(mu_);
  const State& state = states_[index];
  EndpointHealth health;
  health.cooldown_until = state.cooldown_until;
  health.last_error = state.last_error;
  health.last_success_at = state.last_success_at;
  health.batch_size = state.batch_size;
  health.consecutive_failures = state.consecutive_failures;
  if (state.cooldown_until > now) {
    health.state = EndpointHealth::State::kCoolingDown;
  } else if (state.probe_failed) {
    health.state = EndpointHealth::State::kUnhealthy;
  } else if (state.last_success_at.has_value()) {
    health.state = EndpointHealth::State::kHealthy;
  } else {
    health.state = EndpointHealth::State::kUnknown;
  }
  return health;
}

absl::Status EndpointSet::LastError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

}  // namespace coffer::fetcher
