#include "services/scheduler/engine/run_slots.h"

#include <utility>

namespace coffer::scheduler {

RunSlots::Slot::Slot(std::shared_ptr<RunSlots> slots) : slots_(std::move(slots)) {}

RunSlots::Slot& RunSlots::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    slots_ = std::move(other.slots_);
  }
  return *this;
}

RunSlots::Slot::~Slot() { Release(); }

void RunSlots::Slot::Release() {
  if (slots_ == nullptr) return;
  std::shared_ptr<RunSlots> slots = std::move(slots_);
  slots_ = nullptr;
  slots->Free();
}

bool RunSlots::Ticket::Withdraw() {
  std::shared_ptr<RunSlots> slots = slots_.lock();
  if (slots == nullptr || waiter_ == nullptr) return false;
  std::lock_guard<std::mutex> lock(slots->mutex_);
  for (auto it = slots->waiting_.begin(); it != slots->waiting_.end(); ++it) {
    if (*it == waiter_) {
      slots->waiting_.erase(it);
      waiter_ = nullptr;
      return true;
    }
  }
  return false;
}

std::shared_ptr<RunSlots> RunSlots::Create(int max) {
  auto slots = std::make_shared<RunSlots>(max);
  slots->self_ = slots;
  return slots;
}

RunSlots::Ticket RunSlots::Acquire(StartFn start) {
  std::shared_ptr<RunSlots> self = self_.lock();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_use_ >= max_ || !waiting_.empty()) {
      auto waiter = std::make_shared<Ticket::Waiter>();
      waiter->start = std::move(start);
      waiting_.push_back(waiter);
      return Ticket(self, std::move(waiter));
    }
    ++in_use_;
  }
  std::move(start)(Slot(std::move(self)));
  return Ticket();
}

void RunSlots::Free() {
  std::shared_ptr<Ticket::Waiter> next;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (waiting_.empty()) {
      --in_use_;
      return;
    }
    // The slot passes straight to the oldest waiter: in_use_ stays.
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  std::move(next->start)(Slot(self_.lock()));
}

int RunSlots::in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}

int RunSlots::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(waiting_.size());
}

}  // namespace coffer::scheduler
