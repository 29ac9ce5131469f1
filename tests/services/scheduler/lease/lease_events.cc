#include "tests/services/scheduler/lease/lease_events.h"

#include <pthread.h>

namespace coffer::scheduler {
namespace {

std::string CurrentThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

}  // namespace

LeaseKeeper::Callbacks LeaseEvents::Callbacks() {
  return {.on_acquired = [this](const v1::Fence& fence) { RecordAcquired(fence); },
          .on_lost = [this](const absl::Status& reason) { RecordLost(reason); }};
}

void LeaseEvents::RecordAcquired(const v1::Fence& fence) {
  std::lock_guard<std::mutex> lock(mu_);
  acquired_.push_back(fence.epoch());
  threads_.push_back(CurrentThreadName());
}

void LeaseEvents::RecordLost(const absl::Status& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  lost_.push_back(reason);
  threads_.push_back(CurrentThreadName());
}

std::vector<uint64_t> LeaseEvents::acquired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return acquired_;
}

std::vector<absl::Status> LeaseEvents::lost() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lost_;
}

std::vector<std::string> LeaseEvents::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_;
}

}  // namespace coffer::scheduler
