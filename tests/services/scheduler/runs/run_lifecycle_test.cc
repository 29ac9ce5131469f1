#include "services/scheduler/runs/run_lifecycle.h"

#include <optional>
#include <utility>

#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

class RunLifecycleTest : public ::testing::Test {
 protected:
  RunLifecycle lifecycle_{[this](RunOutcome outcome) {
    ++ends_;
    outcome_ = std::move(outcome);
  }};
  int ends_ = 0;
  std::optional<RunOutcome> outcome_;

  static RunOutcome Counts() {
    RunOutcome counts;
    counts.counts.set_items_succeeded(3);
    counts.snapshot_id = "never kept when cancelled";
    return counts;
  }
  static v1::Error Reason() {
    v1::Error reason;
    reason.set_code(v1::Error::CANCELLED);
    reason.set_message("by carol");
    return reason;
  }
};

TEST_F(RunLifecycleTest, OnlyTheFirstEndCounts) {
  RunOutcome first;
  first.state = v1::RUN_STATE_SUCCEEDED;
  lifecycle_.Finish(first);
  RunOutcome second;
  second.state = v1::RUN_STATE_FAILED;
  lifecycle_.Finish(second);
  EXPECT_EQ(ends_, 1);
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_FALSE(lifecycle_.StartCall());  // over: no new call
}

TEST_F(RunLifecycleTest, ACancelWithNothingOutEndsAtOnce) {
  lifecycle_.CancelRun(Reason(), Counts);
  ASSERT_EQ(ends_, 1);
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome_->error.message(), "by carol");
  EXPECT_EQ(outcome_->counts.items_succeeded(), 3u);
  EXPECT_TRUE(outcome_->snapshot_id.empty());
}

TEST_F(RunLifecycleTest, ACancelWaitsForTheLastAnswer) {
  ASSERT_TRUE(lifecycle_.StartCall());
  ASSERT_TRUE(lifecycle_.StartCall());
  lifecycle_.CancelRun(Reason(), Counts);
  EXPECT_EQ(ends_, 0);
  EXPECT_FALSE(lifecycle_.StartCall());  // no new call after a cancel
  EXPECT_FALSE(lifecycle_.Answered(Counts));
  EXPECT_EQ(ends_, 0);
  EXPECT_FALSE(lifecycle_.Answered(Counts));
  ASSERT_EQ(ends_, 1);
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_CANCELLED);
  lifecycle_.CancelRun(Reason(), Counts);  // after the end: nothing
  EXPECT_EQ(ends_, 1);
}

TEST_F(RunLifecycleTest, AnswersAreUsedUntilACancel) {
  ASSERT_TRUE(lifecycle_.StartCall());
  EXPECT_TRUE(lifecycle_.Answered(Counts));
  EXPECT_FALSE(lifecycle_.cancelled());
  EXPECT_EQ(ends_, 0);
}

}  // namespace
}  // namespace coffer::scheduler
