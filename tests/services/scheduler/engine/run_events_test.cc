#include "services/scheduler/engine/run_events.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

using Event = v1::WatchRunsResponse;

Event Make(Event::EventType type, const std::string& task, const std::string& run,
           uint64_t done = 0) {
  Event event;
  event.set_type(type);
  event.mutable_run()->set_task_id(task);
  event.mutable_run()->set_run_id(run);
  event.mutable_run()->mutable_progress()->set_done(done);
  return event;
}

std::vector<std::string> Describe(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& event : events) {
    out.push_back(Event::EventType_Name(event.type()) + " " + event.run().run_id() + " " +
                  std::to_string(event.run().progress().done()));
  }
  return out;
}

TEST(RunEventsTest, SubscriptionsSeeTheirTaskOrRunOnly) {
  RunEvents events;
  auto all = events.Subscribe({}, nullptr);
  auto balances = events.Subscribe({.task_id = "balances"}, nullptr);
  auto one = events.Subscribe({.run_id = "p1"}, nullptr);
  events.Publish(Make(Event::STARTED, "balances", "b1"));
  events.Publish(Make(Event::STARTED, "prices", "p1"));
  EXPECT_EQ(Describe(all->Take()), (std::vector<std::string>{"STARTED b1 0", "STARTED p1 0"}));
  EXPECT_EQ(Describe(balances->Take()), (std::vector<std::string>{"STARTED b1 0"}));
  EXPECT_EQ(Describe(one->Take()), (std::vector<std::string>{"STARTED p1 0"}));
  EXPECT_TRUE(all->Take().empty());
}

TEST(RunEventsTest, ProgressIsMergedInPlaceEverythingElseKept) {
  RunEvents events;
  auto watch = events.Subscribe({}, nullptr);
  events.Publish(Make(Event::QUEUED, "t", "r1"));
  events.Publish(Make(Event::STARTED, "t", "r1"));
  events.Publish(Make(Event::PROGRESS, "t", "r1", 10));
  events.Publish(Make(Event::PROGRESS, "t", "r2", 5));
  events.Publish(Make(Event::PROGRESS, "t", "r1", 20));
  events.Publish(Make(Event::FINISHED, "t", "r1", 30));
  EXPECT_EQ(Describe(watch->Take()),
            (std::vector<std::string>{"QUEUED r1 0", "STARTED r1 0", "PROGRESS r1 20",
                                      "PROGRESS r2 5", "FINISHED r1 30"}));
}

TEST(RunEventsTest, ReadyOnlyWhenSomethingNewIsThere) {
  RunEvents events;
  int ready = 0;
  auto watch = events.Subscribe({}, [&ready] { ++ready; });
  events.Publish(Make(Event::STARTED, "t", "r"));
  events.Publish(Make(Event::PROGRESS, "t", "r", 1));
  EXPECT_EQ(ready, 1);
  watch->Take();
  events.Publish(Make(Event::PROGRESS, "t", "r", 2));
  EXPECT_EQ(ready, 2);
}

TEST(RunEventsTest, ASlowReaderIsCutOffNotBuffered) {
  RunEvents events(/*limit=*/3);
  int ready = 0;
  auto watch = events.Subscribe({}, [&ready] { ++ready; });
  for (int i = 0; i < 3; ++i) events.Publish(Make(Event::STARTED, "t", std::to_string(i)));
  for (int i = 0; i < 50; ++i) events.Publish(Make(Event::PROGRESS, "t", "0", i));
  EXPECT_FALSE(watch->overflowed());  // merged progress never counts
  events.Publish(Make(Event::FINISHED, "t", "0"));
  EXPECT_TRUE(watch->overflowed());
  EXPECT_EQ(ready, 2);  // the first event, then the cut-off
  EXPECT_TRUE(watch->Take().empty());
  events.Publish(Make(Event::STARTED, "t", "later"));
  EXPECT_TRUE(watch->Take().empty());
}

TEST(RunEventsTest, ADroppedSubscriptionIsForgotten) {
  RunEvents events;
  auto kept = events.Subscribe({}, nullptr);
  {
    auto dropped = events.Subscribe({}, nullptr);
    EXPECT_EQ(events.subscribers(), 2u);
  }
  events.Publish(Make(Event::STARTED, "t", "r"));
  EXPECT_EQ(events.subscribers(), 1u);
  EXPECT_EQ(kept->Take().size(), 1u);
}

}  // namespace
}  // namespace coffer::scheduler
