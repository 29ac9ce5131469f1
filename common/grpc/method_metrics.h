// The metrics of one RPC method, looked up once when the method is
// registered so the per-call path only touches atomics.
//
// Names (labels: method = "/coffer.v1.Admin/GetStatus", code = "NOT_FOUND"):
//   grpc_server_calls_total      calls finished, by method
//   grpc_server_errors_total     calls finished with a status other than OK
//   grpc_server_latency_seconds  from the call's arrival to its Finish
//   grpc_server_in_flight        calls admitted and not yet finished
#ifndef COFFER_COMMON_GRPC_METHOD_METRICS_H_
#define COFFER_COMMON_GRPC_METHOD_METRICS_H_

#include <array>
#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "common/metrics/registry.h"

namespace coffer::grpc_util {

class MethodMetrics {
 public:
  MethodMetrics(std::string method, metrics::Registry& registry);

  void CallAdmitted();
  // Records one finished call that had been admitted.
  void CallFinished(absl::StatusCode code, absl::Duration latency);
  // Records one call turned away before its handler ran.
  void CallRejected(absl::StatusCode code);

  const std::string& method() const { return method_; }

 private:
  void CountError(absl::StatusCode code);

  const std::string method_;
  metrics::Registry& registry_;
  metrics::Counter& calls_;
  metrics::Histogram& latency_;
  metrics::Gauge& in_flight_;
  // Error counters by code, created on first use: most methods see few codes.
  std::array<std::atomic<metrics::Counter*>, 17> errors_{};
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_METHOD_METRICS_H_
