#include "services/scheduler/engine/run_events.h"

#include <utility>

namespace coffer::scheduler {

using Event = v1::WatchRunsResponse;

bool RunEvents::Subscription::Matches(const v1::Run& run) const {
  return (filter_.task_id.empty() || filter_.task_id == run.task_id()) &&
         (filter_.run_id.empty() || filter_.run_id == run.run_id());
}

bool RunEvents::Subscription::Add(const Event& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (overflowed_) return false;
  const bool was_empty = pending_.empty();
  if (event.type() == Event::PROGRESS) {
    // Merged: the latest progress of a run replaces an untaken one.
    for (Event& pending : pending_) {
      if (pending.type() == Event::PROGRESS && pending.run().run_id() == event.run().run_id()) {
        pending = event;
        return false;
      }
    }
  } else if (++pending_non_progress_ > limit_) {
    overflowed_ = true;
    pending_.clear();
    return true;  // the reader must learn it is cut off
  }
  pending_.push_back(event);
  return was_empty;
}

std::vector<Event> RunEvents::Subscription::Take() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Event> taken;
  taken.swap(pending_);
  pending_non_progress_ = 0;
  return taken;
}

bool RunEvents::Subscription::overflowed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return overflowed_;
}

std::shared_ptr<RunEvents::Subscription> RunEvents::Subscribe(Filter filter,
                                                              absl::AnyInvocable<void()> ready) {
  auto subscription = std::make_shared<Subscription>(std::move(filter), std::move(ready), limit_);
  std::lock_guard<std::mutex> lock(mutex_);
  subscriptions_.push_back(subscription);
  return subscription;
}

void RunEvents::Publish(const Event& event) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
      std::shared_ptr<Subscription> subscription = it->lock();
      if (subscription == nullptr) {
        it = subscriptions_.erase(it);
        continue;
      }
      if (subscription->Matches(event.run())) live.push_back(std::move(subscription));
      ++it;
    }
  }
  for (const std::shared_ptr<Subscription>& subscription : live) {
    if (subscription->Add(event) && subscription->ready_) subscription->ready_();
  }
}

size_t RunEvents::subscribers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t alive = 0;
  for (const std::weak_ptr<Subscription>& subscription : subscriptions_) {
    if (!subscription.expired()) ++alive;
  }
  return alive;
}

}  // namespace coffer::scheduler
