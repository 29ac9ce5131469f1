// Debug mode's watchdog for polling threads, after asyncio's debug mode that
// reports callbacks slower than `slow_callback_duration`.
//
// A handler runs on a polling thread and must not block it: while it runs,
// no other call on that queue makes progress. In debug mode every completion
// is timed, and one that held its thread longer than the threshold is logged
// with its method name and counted in `grpc_server_slow_handlers_total`.
#ifndef COFFER_COMMON_GRPC_SLOW_HANDLER_DETECTOR_H_
#define COFFER_COMMON_GRPC_SLOW_HANDLER_DETECTOR_H_

#include <atomic>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"

#include "common/metrics/registry.h"

namespace coffer::grpc_util {

class SlowHandlerDetector {
 public:
  SlowHandlerDetector(absl::Duration threshold, metrics::Registry& registry);

  // Called by a polling thread after each completion it ran.
  void Observe(std::string_view what, absl::Duration held);

  absl::Duration threshold() const { return threshold_; }
  uint64_t slow_handlers() const { return slow_handlers_.load(std::memory_order_relaxed); }

 private:
  const absl::Duration threshold_;
  metrics::Registry& registry_;
  std::atomic<uint64_t> slow_handlers_{0};
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_SLOW_HANDLER_DETECTOR_H_
