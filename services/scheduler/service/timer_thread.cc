#include "services/scheduler/service/timer_thread.h"

#include <utility>
#include <vector>

#include "common/exec/thread_name.h"

namespace coffer::scheduler {
namespace {

// The timer whose thread is the calling thread, if any: lets Stop recognise
// a call from a callback, which must not join its own thread.
thread_local const TimerThread* current_timer = nullptr;

}  // namespace

TimerThread::TimerThread(std::string name, WaitableClock* clock) : clock_(clock) {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  thread_ = std::thread([this, name = std::move(name)] {
    exec::SetCurrentThreadName(name);
    current_timer = this;
    Loop();
  });
}

TimerThread::~TimerThread() { Stop(); }

void TimerThread::RunAt(absl::Time when, absl::AnyInvocable<void() &&> callback) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    due_.emplace(when, std::move(callback));
  }
  wakeup_.Notify();
}

void TimerThread::Stop() {
  std::multimap<absl::Time, absl::AnyInvocable<void() &&>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(due_);
  }
  wakeup_.Notify();
  if (current_timer == this) return;
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (thread_.joinable()) thread_.join();
}

void TimerThread::Loop() {
  while (true) {
    std::vector<absl::AnyInvocable<void() &&>> ready;
    absl::Time next = absl::InfiniteFuture();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      const absl::Time now = clock_->Now();
      while (!due_.empty() && due_.begin()->first <= now) {
        ready.push_back(std::move(due_.begin()->second));
        due_.erase(due_.begin());
      }
      if (!due_.empty()) next = due_.begin()->first;
    }
    for (auto& callback : ready) std::move(callback)();
    if (!ready.empty()) continue;  // the callbacks may have added earlier times
    clock_->WaitUntil(next, wakeup_);
  }
}

}  // namespace coffer::scheduler
