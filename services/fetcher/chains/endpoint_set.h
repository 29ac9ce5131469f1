// The endpoints of one chain (or price source) in priority order, and what
// the fetcher has learned about each: which may be used now, which are
// cooling down after a failure or a 429, and how large a JSON-RPC batch each
// accepts.
//
// An upstream request asks for Candidates() and tries them in the order
// given, reporting every outcome back; a failed endpoint is skipped for a
// cool-down that doubles with each consecutive failure (up to a cap) or
// lasts as long as the upstream's Retry-After asked, whichever is longer,
// so one bad node costs a few requests rather than every request. A batch
// an endpoint refused as too large lowers the batch size remembered for
// that endpoint to half the refused size.
//
//   EndpointSet endpoints({{.name = "mainnet-1", .host = "eth.example"}, ...});
//   for (int i : endpoints.Candidates(now)) {
//     ... send to endpoint i in batches of endpoints.BatchSize(i) ...
//     if (ok) { endpoints.ReportSuccess(i, now); break; }
//     endpoints.ReportFailure(i, status, now, retry_after);
//   }
//
// Thread-safe: requests complete on the HTTP loop's thread while gRPC
// handlers read the state for ListUpstreams.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_ENDPOINT_SET_H_
#define COFFER_SERVICES_FETCHER_CHAINS_ENDPOINT_SET_H_

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace coffer::fetcher {

struct EndpointOptions {
  // Configured name, shown as BalanceItem.source and Error.upstream.
  std::string name;
  // host[:port] only, for display: never the URL, which may hold a key.
  std::string host;
  // Largest JSON-RPC batch to send (1 for sources without batches).
  size_t batch_size = 1;
  // First cool-down after a failure; doubles per consecutive failure.
  absl::Duration cooldown = absl::Seconds(5);
  // The longest a failure (not a Retry-After) benches an endpoint.
  absl::Duration max_cooldown = absl::Minutes(5);
};

// What ListUpstreams shows of one endpoint.
struct EndpointHealth {
  enum class State { kUnknown, kHealthy, kCoolingDown, kUnhealthy };
  State state = State::kUnknown;
  absl::Time cooldown_until = absl::InfinitePast();
  absl::Status last_error;  // OK when none yet
  std::optional<absl::Time> last_success_at;
  size_t batch_size = 1;
  int consecutive_failures = 0;
};

class EndpointSet {
 public:
  explicit EndpointSet(std::vector<EndpointOptions> endpoints);

  EndpointSet(const EndpointSet&) = delete;
  EndpointSet& operator=(const EndpointSet&) = delete;

  size_t size() const { return options_.size(); }
  const EndpointOptions& options(size_t index) const { return options_[index]; }

  // Indices of the endpoints that are not cooling down at `now`, in
  // priority order. Empty when every one is: the caller answers UNAVAILABLE
  // with LastError() rather than hammer a failing upstream.
  std::vector<size_t> Candidates(absl::Time now) const;

  // The batch size to use with endpoint `index` now.
  size_t BatchSize(size_t index) const;

  void ReportSuccess(size_t index, absl::Time now);

  // Benches endpoint `index` until now + max(its cool-down, retry_after).
  void ReportFailure(size_t index, const absl::Status& error, absl::Time now,
                     std::optional<absl::Duration> retry_after = std::nullopt);

  // The endpoint refused a batch of `refused_size` as too large: later
  // batches to it hold at most half as many (at least 1). Not a failure.
  void ReportBatchTooLarge(size_t index, size_t refused_size);

  // A health probe's outcome (for EVM a real eth_call): an unhealthy
  // endpoint stays a candidate only after the healthy ones.
  void ReportProbe(size_t index, const absl::Status& outcome, absl::Time now);

  EndpointHealth Health(size_t index, absl::Time now) const;

  // The most recent failure of any endpoint, for the UNAVAILABLE an empty
  // Candidates() leads to; OK when none failed yet.
  absl::Status LastError() const;

 private:
  struct State {
    size_t batch_size = 1;
    absl::Time cooldown_until = absl::InfinitePast();
    int consecutive_failures = 0;
    bool probe_failed = false;
    absl::Status last_error;
    std::optional<absl::Time> last_success_at;
  };

  const std::vector<EndpointOptions> options_;
  mutable std::mutex mu_;
  std::vector<State> states_;  // guarded by mu_, one per endpoint
  absl::Status last_error_;    // guarded by mu_
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_ENDPOINT_SET_H_
