// How a run ended, as FinishRun records it, and the grouping of its failed
// items into an ErrorSummary short enough to read ("why" on one screen).
//
//   ErrorTally tally;
//   tally.Add(item.error(), "eip155:1");   // per failed item
//   outcome.error_summary = tally.Summary();  // largest groups first, <= 20
#ifndef COFFER_SERVICES_SCHEDULER_RUNS_RUN_OUTCOME_H_
#define COFFER_SERVICES_SCHEDULER_RUNS_RUN_OUTCOME_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "coffer/v1/common.pb.h"
#include "coffer/v1/storage.pb.h"

namespace coffer::scheduler {

// At most this many groups in a run's error_summary (storage.proto).
inline constexpr int kMaxErrorSummaryGroups = 20;

struct RunOutcome {
  v1::RunState state = v1::RUN_STATE_UNSPECIFIED;
  v1::RunCounts counts = {};
  // Why the run failed, was cancelled or timed out; unset otherwise.
  v1::Error error = {};
  std::vector<v1::ErrorSummary> error_summary = {};
  // The snapshot a balance refresh wrote; empty when it wrote none.
  std::string snapshot_id = {};
};

// Failed items grouped by (code, upstream, chain).
class ErrorTally {
 public:
  void Add(const v1::Error& error, const std::string& chain_id, uint64_t count = 1);

  // Largest groups first (ties by code, upstream, chain), at most
  // kMaxErrorSummaryGroups; each with the first message seen for it.
  std::vector<v1::ErrorSummary> Summary() const;

  uint64_t failed() const { return failed_; }

 private:
  using Key = std::tuple<int, std::string, std::string>;  // code, upstream, chain
  struct Group {
    uint64_t count = 0;
    std::string sample_message;
  };
  std::map<Key, Group> groups_;
  uint64_t failed_ = 0;
};

// A failed call as a run or item error, "what: message", naming the
// upstream ("fetcher", "storage"). Canonical codes and
// coffer.v1.Error.Code share their numbers.
v1::Error ErrorOfStatus(const absl::Status& status, absl::string_view what,
                        absl::string_view upstream);

// The CAIP-2 chain of a CAIP-10 account id ("eip155:1:0xab.." -> "eip155:1")
// or of a CAIP-19 asset id ("eip155:1/slip44:60" -> "eip155:1"); empty when
// malformed.
std::string ChainOfAccount(absl::string_view account_id);
std::string ChainOfAsset(absl::string_view asset_id);

// SUCCEEDED when nothing failed, PARTIAL when some items succeeded and some
// failed, FAILED when items failed and none succeeded.
v1::RunState StateOfItems(uint64_t succeeded, uint64_t failed);

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_RUNS_RUN_OUTCOME_H_
