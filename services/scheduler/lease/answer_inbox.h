// Where a thread of its own (the lease keeper's, the dependency monitor's)
// gets the answers of the async calls it made: callbacks deliver on any
// thread and wake it; it takes them in order when it looks. Shared (as a
// shared_ptr) with every callback handed out, so an answer that comes after
// the owner is gone lands somewhere harmless.
//
//   auto inbox = std::make_shared<AnswerInbox<Reply>>();
//   client.Call(..., [inbox](absl::StatusOr<Reply> reply) { inbox->Deliver(*reply); });
//   while (!inbox->Stopping()) {
//     for (Reply& reply : inbox->Take()) Handle(reply);
//     clock.WaitUntil(next, inbox->wakeup);
//   }
#ifndef COFFER_SERVICES_SCHEDULER_LEASE_ANSWER_INBOX_H_
#define COFFER_SERVICES_SCHEDULER_LEASE_ANSWER_INBOX_H_

#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"

#include "services/scheduler/lease/waitable_clock.h"

namespace coffer::scheduler {

template <typename Answer>
class AnswerInbox {
 public:
  // Any thread.
  void Deliver(Answer answer) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      answers_.push_back(std::move(answer));
    }
    wakeup.Notify();
  }

  // What was delivered since the last Take, in order.
  std::vector<Answer> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(answers_, {});
  }

  // Asks the owning thread to stop, waking it.
  void RequestStop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wakeup.Notify();
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  // What the owning thread waits on.
  Wakeup wakeup;

 private:
  std::mutex mu_;
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_LEASE_ANSWER_INBOX_H_
