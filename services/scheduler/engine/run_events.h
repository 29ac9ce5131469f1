// The fan-out of run events to WatchRuns streams: the engine publishes
// (queued, started, progress, finished), each subscription keeps what its
// reader has not taken yet. A slow reader gets PROGRESS events merged (the
// latest per run kept, in the place of the first) but every other event; a
// reader so slow that those pile up past a limit is marked overflowed, and
// its stream ends with RESOURCE_EXHAUSTED (scheduler.proto).
//
//   std::shared_ptr<RunEvents::Subscription> watch = events.Subscribe(
//       {.task_id = "refresh-balances"}, [call] { call->OnEventsReady(); });
//   ...                                   // on the stream's turn to write:
//   for (v1::WatchRunsResponse& event : watch->Take()) Write(event);
//   if (watch->overflowed()) Finish(RESOURCE_EXHAUSTED);
//
// The ready callback runs when a subscription goes from nothing to take to
// something (and once when it overflows), on the publishing thread, never
// under a lock; it must not block, and must be thread-safe: after a Take,
// another publisher may call it again while the first call still runs.
// Thread-safe.
#ifndef COFFER_SERVICES_SCHEDULER_ENGINE_RUN_EVENTS_H_
#define COFFER_SERVICES_SCHEDULER_ENGINE_RUN_EVENTS_H_

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"

#include "coffer/v1/scheduler.pb.h"

namespace coffer::scheduler {

class RunEvents {
 public:
  struct Filter {
    std::string task_id = {};  // empty: every task
    std::string run_id = {};   // empty: every run
  };

  class Subscription {
   public:
    // What was published since the last Take, in order, PROGRESS merged.
    std::vector<v1::WatchRunsResponse> Take();
    // Events other than PROGRESS went past the limit untaken: the reader
    // is too slow and its stream must end.
    bool overflowed() const;

    // Use RunEvents::Subscribe.
    Subscription(Filter filter, absl::AnyInvocable<void()> ready, size_t limit)
        : filter_(std::move(filter)), ready_(std::move(ready)), limit_(limit) {}

   private:
    friend class RunEvents;
    bool Matches(const v1::Run& run) const;
    // Adds `event`; true when the reader must be told.
    bool Add(const v1::WatchRunsResponse& event);

    const Filter filter_;
    absl::AnyInvocable<void()> ready_;
    const size_t limit_;
    mutable std::mutex mutex_;
    std::vector<v1::WatchRunsResponse> pending_;
    size_t pending_non_progress_ = 0;
    bool overflowed_ = false;
  };

  // `limit`: the most untaken events other than PROGRESS a subscription
  // holds before it is overflowed.
  explicit RunEvents(size_t limit = 1000) : limit_(limit) {}

  // Events for runs matching `filter` from now on; ends when the returned
  // subscription is destroyed (the hub keeps only a weak reference).
  std::shared_ptr<Subscription> Subscribe(Filter filter, absl::AnyInvocable<void()> ready);

  // Offers `event` to every live subscription matching its run.
  void Publish(const v1::WatchRunsResponse& event);

  // Subscriptions alive (for metrics and tests).
  size_t subscribers() const;

 private:
  const size_t limit_;
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<Subscription>> subscriptions_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_ENGINE_RUN_EVENTS_H_
