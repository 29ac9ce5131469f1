// Records what a LeaseKeeper's callbacks were called with, and on which
// thread, for tests to read from any thread.
//
//   LeaseEvents events;
//   LeaseKeeper keeper(options, &store, &clock, events.Callbacks());
//   ...
//   EXPECT_EQ(events.acquired(), std::vector<uint64_t>{7});
#ifndef COFFER_TESTS_SERVICES_SCHEDULER_LEASE_LEASE_EVENTS_H_
#define COFFER_TESTS_SERVICES_SCHEDULER_LEASE_LEASE_EVENTS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

#include "coffer/v1/storage.pb.h"
#include "services/scheduler/lease/lease_keeper.h"

namespace coffer::scheduler {

class LeaseEvents {
 public:
  // Callbacks that record into this object, which must outlive the keeper.
  LeaseKeeper::Callbacks Callbacks();

  void RecordAcquired(const v1::Fence& fence);
  void RecordLost(const absl::Status& reason);

  // Epochs announced by on_acquired, in order.
  std::vector<uint64_t> acquired() const;
  // Reasons given to on_lost, in order.
  std::vector<absl::Status> lost() const;
  // Names of the threads each callback ran on, in order.
  std::vector<std::string> threads() const;

 private:
  mutable std::mutex mu_;
  std::vector<uint64_t> acquired_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> lost_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::scheduler

#endif  // COFFER_TESTS_SERVICES_SCHEDULER_LEASE_LEASE_EVENTS_H_
