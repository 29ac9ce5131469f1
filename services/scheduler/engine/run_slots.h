// The global limit on concurrent runs across tasks: a burst of due tasks
// queues for a slot instead of flooding fetcher and storage at once.
//
//   std::shared_ptr<RunSlots> slots = RunSlots::Create(/*max=*/4);
//   RunSlots::Ticket ticket = slots->Acquire([](RunSlots::Slot slot) {
//     StartTheRun(std::move(slot));   // the slot is freed when `slot` dies
//   });
//   ticket.Withdraw();   // still queued? then it never starts
//
// Waiting starts run in the order they asked. A start runs on the thread
// that asked (a slot was free) or on the thread whose Slot was released,
// never under the limiter's lock, and must not block. Thread-safe.
#ifndef COFFER_SERVICES_SCHEDULER_ENGINE_RUN_SLOTS_H_
#define COFFER_SERVICES_SCHEDULER_ENGINE_RUN_SLOTS_H_

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>

#include "absl/functional/any_invocable.h"

namespace coffer::scheduler {

class RunSlots {
 public:
  class Slot;
  using StartFn = absl::AnyInvocable<void(Slot) &&>;

  // A held slot; freeing it (destruction) starts the next waiting start.
  // Move-only.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept = default;
    Slot& operator=(Slot&& other) noexcept;
    ~Slot();
    bool held() const { return slots_ != nullptr; }

   private:
    friend class RunSlots;
    explicit Slot(std::shared_ptr<RunSlots> slots);
    void Release();
    std::shared_ptr<RunSlots> slots_;
  };

  // A place in the queue, or nothing when the start ran at once.
  class Ticket {
   public:
    Ticket() = default;
    // Removes the start from the queue if it has not run; true if so.
    bool Withdraw();

   private:
    friend class RunSlots;
    struct Waiter {
      StartFn start;
    };
    Ticket(std::weak_ptr<RunSlots> slots, std::shared_ptr<Waiter> waiter)
        : slots_(std::move(slots)), waiter_(std::move(waiter)) {}
    std::weak_ptr<RunSlots> slots_;
    std::shared_ptr<Waiter> waiter_;
  };

  // `max` below 1 counts as 1. Slots and tickets refer to the limiter
  // through the shared_ptr Create answers.
  static std::shared_ptr<RunSlots> Create(int max);

  // Runs `start` with a slot now if one is free, else queues it.
  Ticket Acquire(StartFn start);

  int max() const { return max_; }
  int in_use() const;
  int waiting() const;

  // Use Create.
  explicit RunSlots(int max) : max_(max < 1 ? 1 : max) {}

 private:
  void Free();

  const int max_;
  mutable std::mutex mutex_;
  int in_use_ = 0;
  std::list<std::shared_ptr<Ticket::Waiter>> waiting_;
  std::weak_ptr<RunSlots> self_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_ENGINE_RUN_SLOTS_H_
