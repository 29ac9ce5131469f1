#include "services/scheduler/engine/run_slots.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

TEST(RunSlotsTest, StartsAtOnceWhileSlotsAreFreeThenQueuesInOrder) {
  std::shared_ptr<RunSlots> slots = RunSlots::Create(2);
  std::vector<RunSlots::Slot> held;
  std::vector<int> started;
  auto start = [&](int id) {
    return [&, id](RunSlots::Slot slot) {
      started.push_back(id);
      held.push_back(std::move(slot));
    };
  };
  slots->Acquire(start(1));
  slots->Acquire(start(2));
  RunSlots::Ticket third = slots->Acquire(start(3));
  RunSlots::Ticket fourth = slots->Acquire(start(4));
  EXPECT_EQ(started, (std::vector<int>{1, 2}));
  EXPECT_EQ(slots->in_use(), 2);
  EXPECT_EQ(slots->waiting(), 2);

  // Freeing a slot starts the oldest waiter with it.
  RunSlots::Slot first = std::move(held[0]);
  first = RunSlots::Slot();
  EXPECT_EQ(started, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(slots->in_use(), 2);
  EXPECT_EQ(slots->waiting(), 1);
  EXPECT_FALSE(third.Withdraw());  // it ran already
  EXPECT_TRUE(fourth.Withdraw());
  std::vector<RunSlots::Slot> release;
  release.swap(held);
  release.clear();
  EXPECT_EQ(slots->in_use(), 0);
}

TEST(RunSlotsTest, AWithdrawnStartNeverRuns) {
  std::shared_ptr<RunSlots> slots = RunSlots::Create(1);
  std::vector<RunSlots::Slot> held;
  int ran = 0;
  slots->Acquire([&](RunSlots::Slot slot) { held.push_back(std::move(slot)); });
  RunSlots::Ticket ticket = slots->Acquire([&](RunSlots::Slot) { ++ran; });
  EXPECT_TRUE(ticket.Withdraw());
  EXPECT_FALSE(ticket.Withdraw());
  held.clear();  // the slot comes free: nobody waits
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(slots->in_use(), 0);
  EXPECT_EQ(slots->waiting(), 0);
}

TEST(RunSlotsTest, ALaterAskerDoesNotJumpTheQueue) {
  std::shared_ptr<RunSlots> slots = RunSlots::Create(1);
  std::vector<RunSlots::Slot> held;
  std::vector<int> started;
  slots->Acquire([&](RunSlots::Slot slot) { held.push_back(std::move(slot)); });
  slots->Acquire([&](RunSlots::Slot) { started.push_back(2); });  // frees at once
  held.clear();
  EXPECT_EQ(started, (std::vector<int>{2}));
  EXPECT_EQ(slots->in_use(), 0);
}

TEST(RunSlotsTest, NeverMoreThanMaxAcrossThreads) {
  constexpr int kMax = 3;
  std::shared_ptr<RunSlots> slots = RunSlots::Create(kMax);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::atomic<int> done{0};
  std::mutex mutex;
  std::vector<RunSlots::Slot> held;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        slots->Acquire([&](RunSlots::Slot slot) {
          const int now = ++running;
          int seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
          // Half the runs end on another thread, later.
          if ((++done & 1) == 0) {
            --running;
            return;  // slot freed here
          }
          --running;
          std::lock_guard<std::mutex> lock(mutex);
          held.push_back(std::move(slot));
        });
        std::vector<RunSlots::Slot> release;
        {
          std::lock_guard<std::mutex> lock(mutex);
          release.swap(held);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  held.clear();
  EXPECT_LE(peak.load(), kMax);
  EXPECT_EQ(done.load(), 8 * 200);
  EXPECT_EQ(slots->in_use(), 0);
  EXPECT_EQ(slots->waiting(), 0);
}

}  // namespace
}  // namespace coffer::scheduler
