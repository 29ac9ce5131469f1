#include "common/grpc/method_metrics.h"

#include <utility>

#include "common/grpc/status_conversion.h"

namespace coffer::grpc_util {

MethodMetrics::MethodMetrics(std::string method, metrics::Registry& registry)
    : method_(std::move(method)),
      registry_(registry),
      calls_(registry.GetCounter("grpc_server_calls_total", {{"method", method_}},
                                 "RPCs finished, by method")),
      latency_(registry.GetHistogram("grpc_server_latency_seconds", {{"method", method_}},
                                     "RPC latency from arrival to Finish")),
      in_flight_(registry.GetGauge("grpc_server_in_flight", {{"method", method_}},
                                   "RPCs admitted and not yet finished")) {}

void MethodMetrics::CallAdmitted() { in_flight_.Add(1); }

void MethodMetrics::CallFinished(absl::StatusCode code, absl::Duration latency) {
  in_flight_.Add(-1);
  calls_.Increment();
  latency_.Record(latency);
  if (code != absl::StatusCode::kOk) CountError(code);
}

void MethodMetrics::CallRejected(absl::StatusCode code) {
  calls_.Increment();
  CountError(code);
}

void MethodMetrics::CountError(absl::StatusCode code) {
  size_t index = static_cast<size_t>(code);
  if (index >= errors_.size()) index = static_cast<size_t>(absl::StatusCode::kUnknown);
  metrics::Counter* counter = errors_[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // The registry hands back the same counter to racing threads.
    counter =
        &registry_.GetCounter("grpc_server_errors_total",
                              {{"method", method_}, {"code", std::string(StatusCodeName(code))}},
                              "RPCs finished with a status other than OK, by method and code");
    errors_[index].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

}  // namespace coffer::grpc_util
