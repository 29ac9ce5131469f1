#include "services/scheduler/runs/run_outcome.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace coffer::scheduler {

void ErrorTally::Add(const v1::Error& error, const std::string& chain_id, uint64_t count) {
  Group& group = groups_[Key{static_cast<int>(error.code()), error.upstream(), chain_id}];
  if (group.count == 0) group.sample_message = error.message();
  group.count += count;
  failed_ += count;
}

std::vector<v1::ErrorSummary> ErrorTally::Summary() const {
  std::vector<std::pair<const Key*, const Group*>> order;
  order.reserve(groups_.size());
  for (const auto& [key, group] : groups_) order.emplace_back(&key, &group);
  // Stable over the map's key order: equal counts stay by key.
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second->count > b.second->count; });
  if (order.size() > static_cast<size_t>(kMaxErrorSummaryGroups)) {
    order.resize(kMaxErrorSummaryGroups);
  }
  std::vector<v1::ErrorSummary> summary;
  summary.reserve(order.size());
  for (const auto& [key, group] : order) {
    v1::ErrorSummary& entry = summary.emplace_back();
    entry.set_code(static_cast<v1::Error::Code>(std::get<0>(*key)));
    entry.set_upstream(std::get<1>(*key));
    entry.set_chain_id(std::get<2>(*key));
    entry.set_count(group->count);
    entry.set_sample_message(group->sample_message);
  }
  return summary;
}

v1::Error ErrorOfStatus(const absl::Status& status, absl::string_view what,
                        absl::string_view upstream) {
  v1::Error error;
  const int code = static_cast<int>(status.code());
  error.set_code(code > 0 && v1::Error::Code_IsValid(code) ? static_cast<v1::Error::Code>(code)
                                                           : v1::Error::UNKNOWN);
  error.set_message(absl::StrCat(what, ": ", status.message()));
  error.set_upstream(std::string(upstream));
  return error;
}

std::string ChainOfAccount(absl::string_view account_id) {
  const size_t first = account_id.find(':');
  if (first == absl::string_view::npos) return "";
  const size_t second = account_id.find(':', first + 1);
  if (second == absl::string_view::npos) return "";
  return std::string(account_id.substr(0, second));
}

std::string ChainOfAsset(absl::string_view asset_id) {
  const size_t slash = asset_id.find('/');
  return slash == absl::string_view::npos ? "" : std::string(asset_id.substr(0, slash));
}

v1::RunState StateOfItems(uint64_t succeeded, uint64_t failed) {
  if (failed == 0) return v1::RUN_STATE_SUCCEEDED;
  return succeeded > 0 ? v1::RUN_STATE_PARTIAL : v1::RUN_STATE_FAILED;
}

}  // namespace coffer::scheduler
