#include "common/grpc/slow_handler_detector.h"

#include <string>

#include "absl/time/time.h"
#include <spdlog/spdlog.h>

namespace coffer::grpc_util {

SlowHandlerDetector::SlowHandlerDetector(absl::Duration threshold, metrics::Registry& registry)
    : threshold_(threshold), registry_(registry) {}

void SlowHandlerDetector::Observe(std::string_view what, absl::Duration held) {
  if (held < threshold_) return;
  slow_handlers_.fetch_add(1, std::memory_order_relaxed);
  registry_
      .GetCounter("grpc_server_slow_handlers_total", {{"method", std::string(what)}},
                  "Completions that held a polling thread longer than the debug threshold")
      .Increment();
  spdlog::warn("slow handler: {} held a polling thread for {} (threshold {})", what,
               absl::FormatDuration(held), absl::FormatDuration(threshold_));
}

}  // namespace coffer::grpc_util
