// Caps the calls a server runs at once. Past the limit a call is answered
// RESOURCE_EXHAUSTED before its handler runs, so an overloaded service sheds
// load at the door instead of queueing without bound.
#ifndef COFFER_COMMON_GRPC_IN_FLIGHT_LIMITER_H_
#define COFFER_COMMON_GRPC_IN_FLIGHT_LIMITER_H_

#include <atomic>
#include <cstdint>

namespace coffer::grpc_util {

class InFlightLimiter {
 public:
  explicit InFlightLimiter(int64_t limit) : limit_(limit) {}

  // Takes a slot; false (and nothing taken) when all are in use. Any thread.
  [[nodiscard]] bool TryAcquire() {
    int64_t now = in_flight_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (now > limit_) {
      in_flight_.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    return true;
  }
  void Release() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_IN_FLIGHT_LIMITER_H_
