// WatchRuns streams over a real in-process server and client: a harness
// service registers only WatchRuns and hands it to RunWatches, whose runs
// come from a real RunEvents hub and a fake engine; PROGRESS pacing runs on
// a fake clock.
#include "services/scheduler/service/watch_runs_call.h"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "common/config/proto_duration.h"
#include "common/grpc/async_client.h"
#include "common/grpc/async_server.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "tests/services/scheduler/lease/fake_waitable_clock.h"

namespace coffer::scheduler {
namespace {

using Event = v1::WatchRunsResponse;

v1::Run MakeRun(const std::string& run_id, const std::string& task_id, v1::RunState state) {
  v1::Run run;
  run.set_run_id(run_id);
  run.set_task_id(task_id);
  run.set_state(state);
  return run;
}

Event MakeEvent(Event::EventType type, const v1::Run& run, uint64_t done = 0) {
  Event event;
  event.set_type(type);
  *event.mutable_run() = run;
  event.mutable_run()->mutable_progress()->set_done(done);
  return event;
}

// The engine's side: current runs and stored runs, answered at once unless
// the test defers the current runs.
class FakeEngine {
 public:
  void SetCurrent(std::vector<v1::Run> runs) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(runs);
  }
  void SetStored(const std::string& run_id, absl::StatusOr<v1::Run> run) {
    std::lock_guard<std::mutex> lock(mu_);
    stored_.insert_or_assign(run_id, std::move(run));
  }
  void DeferCurrent() {
    std::lock_guard<std::mutex> lock(mu_);
    defer_ = true;
  }
  // Answers the deferred CurrentRuns calls.
  void AnswerDeferred() {
    std::vector<std::pair<RunEvents::Filter, Done>> deferred;
    {
      std::lock_guard<std::mutex> lock(mu_);
      deferred.swap(deferred_);
      defer_ = false;
    }
    for (auto& [filter, done] : deferred) Answer(filter, std::move(done));
  }

  void CurrentRuns(RunEvents::Filter filter,
                   absl::AnyInvocable<void(std::vector<v1::Run>) &&> done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (defer_) {
        deferred_.emplace_back(std::move(filter), std::move(done));
        cv_.notify_all();
        return;
      }
    }
    Answer(filter, std::move(done));
  }

  void GetRun(const v1::GetRunRequest& request, Answer<v1::GetRunResponse> done) {
    absl::StatusOr<v1::Run> run = absl::NotFoundError(absl::StrCat("run ", request.run_id()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = stored_.find(request.run_id());
      if (it != stored_.end()) run = it->second;
    }
    if (!run.ok()) {
      std::move(done)(run.status());
      return;
    }
    v1::GetRunResponse reply;
    *reply.mutable_run() = *run;
    std::move(done)(reply);
  }

  // Waits until `n` CurrentRuns calls have been answered (or deferred).
  bool AwaitCurrentCalls(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30),
                        [&] { return answered_ + static_cast<int>(deferred_.size()) >= n; });
  }

 private:
  using Done = absl::AnyInvocable<void(std::vector<v1::Run>) &&>;

  void Answer(const RunEvents::Filter& filter, Done done) {
    std::vector<v1::Run> runs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const v1::Run& run : current_) {
        if (!filter.task_id.empty() && filter.task_id != run.task_id()) continue;
        if (!filter.run_id.empty() && filter.run_id != run.run_id()) continue;
        runs.push_back(run);
      }
    }
    std::move(done)(std::move(runs));
    std::lock_guard<std::mutex> lock(mu_);
    ++answered_;
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::Run> current_;
  std::map<std::string, absl::StatusOr<v1::Run>> stored_;
  bool defer_ = false;
  std::vector<std::pair<RunEvents::Filter, Done>> deferred_;
  int answered_ = 0;
};

// A stream's messages and end, as the client saw them.
class StreamRecord {
 public:
  void Add(const Event& event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(event);
    cv_.notify_all();
  }
  void End(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    cv_.notify_all();
  }
  bool AwaitEvents(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return events_.size() >= n; });
  }
  std::optional<absl::Status> AwaitEnd() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return status_.has_value(); });
    return status_;
  }
  std::vector<Event> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::optional<absl::Status> status_;
};

std::vector<std::pair<Event::EventType, std::string>> Summary(const std::vector<Event>& events) {
  std::vector<std::pair<Event::EventType, std::string>> summary;
  for (const Event& event : events) summary.emplace_back(event.type(), event.run().run_id());
  return summary;
}

class WatchRunsTest : public ::testing::Test {
 protected:
  WatchRunsTest() {
    grpc_util::AsyncServer::Options options;
    options.listen_address = "127.0.0.1:0";
    options.completion_queues = 1;
    options.enable_reflection = false;
    options.registry = &registry_;
    server_ = std::make_unique<grpc_util::AsyncServer>(options);
    server_->RegisterService(&async_api_);
    COFFER_GRPC_SERVER_STREAMING(*server_, async_api_, v1::Scheduler, WatchRuns, this);
    server_->AddShutdownListener(
        [this] { watches_.Close(absl::UnavailableError("the scheduler is shutting down")); });
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
    client_ = std::make_unique<grpc_util::AsyncClient<v1::Scheduler>>(
        grpc_util::MakeChannel(absl::StrCat("127.0.0.1:", server_->port())), &queue_);
  }

  ~WatchRunsTest() override {
    server_->Shutdown(absl::Seconds(5));
    queue_.Shutdown();
  }

  void HandleWatchRuns(grpc_util::CallContext& /*context*/, const v1::WatchRunsRequest& request,
                       grpc_util::ServerWriter<Event> writer) {
    watches_.Watch(request, std::move(writer));
  }

  std::shared_ptr<StreamRecord> Watch(const v1::WatchRunsRequest& request,
                                      grpc_util::CallHandle* handle = nullptr) {
    auto record = std::make_shared<StreamRecord>();
    grpc_util::CallHandle started = client_->Stream(
        &v1::Scheduler::Stub::PrepareAsyncWatchRuns, request,
        [record](const Event& event) { record->Add(event); },
        [record](absl::Status status) { record->End(std::move(status)); },
        {.timeout = absl::Seconds(60)});
    if (handle != nullptr) *handle = started;
    return record;
  }

  // A stream for every run, past its CURRENT events.
  std::shared_ptr<StreamRecord> WatchStreaming(v1::WatchRunsRequest request = {}) {
    const int calls = ++current_calls_;
    std::shared_ptr<StreamRecord> record = Watch(request);
    EXPECT_TRUE(engine_.AwaitCurrentCalls(calls));
    return record;
  }

  bool AwaitNoWatches() {
    for (int i = 0; i < 3000 && watches_.size() > 0; ++i) absl::SleepFor(absl::Milliseconds(10));
    return watches_.size() == 0;
  }

  FakeEngine engine_;
  RunEvents events_{/*limit=*/3};
  FakeWaitableClock clock_;
  TimerThread timer_{"test-timer", &clock_};
  absl::Status admission_ = absl::OkStatus();
  RunWatches watches_{{
      .events = &events_,
      .current_runs =
          [this](RunEvents::Filter filter, absl::AnyInvocable<void(std::vector<v1::Run>) &&> done) {
            engine_.CurrentRuns(std::move(filter), std::move(done));
          },
      .get_run = [this](
                     const v1::GetRunRequest& request,
                     Answer<v1::GetRunResponse> done) { engine_.GetRun(request, std::move(done)); },
      .admit = [this] { return admission_; },
      .timer = &timer_,
  }};
  int current_calls_ = 0;

  metrics::Registry registry_;
  v1::Scheduler::AsyncService async_api_;
  std::unique_ptr<grpc_util::AsyncServer> server_;
  grpc_util::ClientQueue queue_{"test-client"};
  std::unique_ptr<grpc_util::AsyncClient<v1::Scheduler>> client_;
};

TEST(ProgressIntervalTest, DefaultsAndMinimum) {
  EXPECT_EQ(*ProgressIntervalOf(config::DurationToProto(absl::ZeroDuration())),
            absl::Milliseconds(500));
  EXPECT_EQ(*ProgressIntervalOf(config::DurationToProto(absl::Milliseconds(100))),
            absl::Milliseconds(100));
  EXPECT_EQ(*ProgressIntervalOf(config::DurationToProto(absl::Seconds(3))), absl::Seconds(3));
  absl::StatusOr<absl::Duration> small =
      ProgressIntervalOf(config::DurationToProto(absl::Milliseconds(99)));
  EXPECT_EQ(small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(small.status().message().find("progress_interval"), std::string::npos);
  EXPECT_EQ(ProgressIntervalOf(config::DurationToProto(-absl::Seconds(1))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(WatchRunsTest, CurrentRunsFirstThenEventsUntilCancelled) {
  const v1::Run a = MakeRun("run-a", "prices", v1::RUN_STATE_RUNNING);
  const v1::Run b = MakeRun("run-b", "balances", v1::RUN_STATE_PENDING);
  engine_.SetCurrent({a});
  grpc_util::CallHandle handle;
  std::shared_ptr<StreamRecord> record = Watch({}, &handle);
  ASSERT_TRUE(engine_.AwaitCurrentCalls(1));
  ASSERT_TRUE(record->AwaitEvents(1));
  EXPECT_EQ(record->events()[0].type(), Event::CURRENT);
  EXPECT_EQ(record->events()[0].run().run_id(), "run-a");
  EXPECT_EQ(record->events()[0].time().seconds(), absl::ToUnixSeconds(clock_.Now()));

  events_.Publish(MakeEvent(Event::QUEUED, b));
  events_.Publish(MakeEvent(Event::FINISHED, MakeRun("run-a", "prices", v1::RUN_STATE_SUCCEEDED)));
  events_.Publish(MakeEvent(Event::STARTED, b));
  ASSERT_TRUE(record->AwaitEvents(4));
  EXPECT_EQ(Summary(record->events()),
            (std::vector<std::pair<Event::EventType, std::string>>{{Event::CURRENT, "run-a"},
                                                                   {Event::QUEUED, "run-b"},
                                                                   {Event::FINISHED, "run-a"},
                                                                   {Event::STARTED, "run-b"}}));
  EXPECT_EQ(watches_.size(), 1u);
  handle.Cancel();
  EXPECT_EQ(record->AwaitEnd()->code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(AwaitNoWatches());
  EXPECT_EQ(events_.subscribers(), 0u);
}

TEST_F(WatchRunsTest, FiltersByTask) {
  v1::WatchRunsRequest request;
  request.set_task_id("prices");
  engine_.SetCurrent({MakeRun("run-a", "prices", v1::RUN_STATE_RUNNING),
                      MakeRun("run-b", "balances", v1::RUN_STATE_RUNNING)});
  std::shared_ptr<StreamRecord> record = WatchStreaming(request);
  events_.Publish(MakeEvent(Event::QUEUED, MakeRun("run-c", "balances", v1::RUN_STATE_PENDING)));
  events_.Publish(MakeEvent(Event::QUEUED, MakeRun("run-d", "prices", v1::RUN_STATE_PENDING)));
  ASSERT_TRUE(record->AwaitEvents(2));
  EXPECT_EQ(Summary(record->events()), (std::vector<std::pair<Event::EventType, std::string>>{
                                           {Event::CURRENT, "run-a"}, {Event::QUEUED, "run-d"}}));
}

TEST_F(WatchRunsTest, EventsBeforeTheSnapshotAreInIt) {
  engine_.DeferCurrent();
  std::shared_ptr<StreamRecord> record = Watch({});
  ASSERT_TRUE(engine_.AwaitCurrentCalls(1));
  const v1::Run a = MakeRun("run-a", "prices", v1::RUN_STATE_RUNNING);
  events_.Publish(MakeEvent(Event::STARTED, a));  // before the snapshot, which has it
  engine_.SetCurrent({a});
  engine_.AnswerDeferred();
  events_.Publish(MakeEvent(Event::FINISHED, MakeRun("run-a", "prices", v1::RUN_STATE_FAILED)));
  ASSERT_TRUE(record->AwaitEvents(2));
  EXPECT_EQ(Summary(record->events()), (std::vector<std::pair<Event::EventType, std::string>>{
                                           {Event::CURRENT, "run-a"}, {Event::FINISHED, "run-a"}}));
}

TEST_F(WatchRunsTest, WatchedRunEndsTheStreamWhenItFinishes) {
  v1::WatchRunsRequest request;
  request.set_run_id("run-a");
  engine_.SetCurrent({MakeRun("run-a", "prices", v1::RUN_STATE_RUNNING),
                      MakeRun("run-b", "prices", v1::RUN_STATE_RUNNING)});
  std::shared_ptr<StreamRecord> record = WatchStreaming(request);
  events_.Publish(MakeEvent(Event::FINISHED, MakeRun("run-b", "prices", v1::RUN_STATE_SUCCEEDED)));
  events_.Publish(MakeEvent(Event::FINISHED, MakeRun("run-a", "prices", v1::RUN_STATE_SUCCEEDED)));
  std::optional<absl::Status> end = record->AwaitEnd();
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->ok()) << *end;
  EXPECT_EQ(Summary(record->events()), (std::vector<std::pair<Event::EventType, std::string>>{
                                           {Event::CURRENT, "run-a"}, {Event::FINISHED, "run-a"}}));
  EXPECT_TRUE(AwaitNoWatches());
}

TEST_F(WatchRunsTest, WatchedRunThatEndedIsSentAndTheStreamEnds) {
  engine_.SetStored("run-old", MakeRun("run-old", "prices", v1::RUN_STATE_PARTIAL));
  v1::WatchRunsRequest request;
  request.set_run_id("run-old");
  std::shared_ptr<StreamRecord> record = Watch(request);
  std::optional<absl::Status> end = record->AwaitEnd();
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->ok()) << *end;
  ASSERT_EQ(record->events().size(), 1u);
  EXPECT_EQ(record->events()[0].type(), Event::CURRENT);
  EXPECT_EQ(record->events()[0].run().state(), v1::RUN_STATE_PARTIAL);
}

TEST_F(WatchRunsTest, WatchedRunStoredAsRunningKeepsStreaming) {
  // Not current here, stored as running: it is followed until it finishes.
  engine_.SetStored("run-a", MakeRun("run-a", "prices", v1::RUN_STATE_RUNNING));
  v1::WatchRunsRequest request;
  request.set_run_id("run-a");
  std::shared_ptr<StreamRecord> record = Watch(request);
  ASSERT_TRUE(record->AwaitEvents(1));
  events_.Publish(MakeEvent(Event::FINISHED, MakeRun("run-a", "prices", v1::RUN_STATE_ABANDONED)));
  std::optional<absl::Status> end = record->AwaitEnd();
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->ok()) << *end;
  EXPECT_EQ(record->events().size(), 2u);
}

TEST_F(WatchRunsTest, UnknownRunIsNotFound) {
  v1::WatchRunsRequest request;
  request.set_run_id("run-nobody");
  std::shared_ptr<StreamRecord> record = Watch(request);
  EXPECT_EQ(record->AwaitEnd()->code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(record->events().empty());
}

TEST_F(WatchRunsTest, ProgressIsPacedPerRun) {
  const v1::Run a = MakeRun("run-a", "prices", v1::RUN_STATE_RUNNING);
  const v1::Run b = MakeRun("run-b", "balances", v1::RUN_STATE_RUNNING);
  v1::WatchRunsRequest request;
  *request.mutable_progress_interval() = config::DurationToProto(absl::Milliseconds(200));
  std::shared_ptr<StreamRecord> record = WatchStreaming(request);
  const absl::Time start = clock_.Now();

  events_.Publish(MakeEvent(Event::PROGRESS, a, 1));  // sent: the first of run-a
  events_.Publish(MakeEvent(Event::PROGRESS, a, 2));  // held ...
  events_.Publish(MakeEvent(Event::PROGRESS, a, 3));  // ... and replaced
  events_.Publish(MakeEvent(Event::PROGRESS, b, 7));  // run-b has its own pace
  ASSERT_TRUE(record->AwaitEvents(2));
  ASSERT_TRUE(clock_.AwaitBlockedWaiterUntil(start + absl::Milliseconds(200)));
  EXPECT_EQ(record->events().size(), 2u);

  clock_.Advance(absl::Milliseconds(200));
  ASSERT_TRUE(record->AwaitEvents(3));
  std::vector<Event> seen = record->events();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].run().run_id(), "run-a");
  EXPECT_EQ(seen[0].run().progress().done(), 1u);
  EXPECT_EQ(seen[1].run().run_id(), "run-b");
  EXPECT_EQ(seen[2].run().run_id(), "run-a");
  EXPECT_EQ(seen[2].run().progress().done(), 3u);

  // Held progress is dropped when the run finishes: its final record has it.
  events_.Publish(MakeEvent(Event::PROGRESS, b, 8));  // 200 ms after run-b's last: sent
  // Received before the next is published: were the writer still busy with
  // the last message, 8 would wait in the queue and 9 replace it there.
  ASSERT_TRUE(record->AwaitEvents(4));
  events_.Publish(MakeEvent(Event::PROGRESS, b, 9));  // held
  events_.Publish(
      MakeEvent(Event::FINISHED, MakeRun("run-b", "balances", v1::RUN_STATE_SUCCEEDED)));
  ASSERT_TRUE(record->AwaitEvents(5));
  clock_.Advance(absl::Seconds(1));
  // The timer has run run-b's turn and has nothing left to wait for.
  ASSERT_TRUE(clock_.AwaitBlockedWaiterUntil(absl::InfiniteFuture()));
  events_.Publish(MakeEvent(Event::PROGRESS, a, 4));  // past the interval: at once
  ASSERT_TRUE(record->AwaitEvents(6));
  seen = record->events();
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[3].run().progress().done(), 8u);
  EXPECT_EQ(seen[4].type(), Event::FINISHED);
  EXPECT_EQ(seen[5].type(), Event::PROGRESS);
  EXPECT_EQ(seen[5].run().progress().done(), 4u);
}

TEST_F(WatchRunsTest, TooSmallAProgressIntervalIsInvalid) {
  v1::WatchRunsRequest request;
  *request.mutable_progress_interval() = config::DurationToProto(absl::Milliseconds(10));
  std::shared_ptr<StreamRecord> record = Watch(request);
  EXPECT_EQ(record->AwaitEnd()->code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(WatchRunsTest, AReaderTooFarBehindIsCutOff) {
  engine_.DeferCurrent();
  std::shared_ptr<StreamRecord> record = Watch({});
  ASSERT_TRUE(engine_.AwaitCurrentCalls(1));
  for (int i = 0; i < 4; ++i) {  // past the hub's limit of 3 untaken
    events_.Publish(MakeEvent(Event::QUEUED,
                              MakeRun(absl::StrCat("run-", i), "prices", v1::RUN_STATE_PENDING)));
  }
  engine_.AnswerDeferred();
  EXPECT_EQ(record->AwaitEnd()->code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(WatchRunsTest, RefusedWhenNotAdmitted) {
  admission_ = absl::UnavailableError("this replica is a standby; the active scheduler is b at c");
  std::shared_ptr<StreamRecord> record = Watch({});
  std::optional<absl::Status> end = record->AwaitEnd();
  EXPECT_EQ(end->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(end->message(), admission_.message());
  EXPECT_TRUE(AwaitNoWatches());
}

TEST_F(WatchRunsTest, EndAllEndsEveryStreamButNotLaterOnes) {
  std::shared_ptr<StreamRecord> first = WatchStreaming();
  std::shared_ptr<StreamRecord> second = WatchStreaming();
  EXPECT_EQ(watches_.size(), 2u);
  watches_.EndAll(absl::UnavailableError("lease lost"));
  EXPECT_EQ(first->AwaitEnd()->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second->AwaitEnd()->message(), "lease lost");
  EXPECT_EQ(watches_.size(), 0u);

  std::shared_ptr<StreamRecord> third = WatchStreaming();
  events_.Publish(MakeEvent(Event::QUEUED, MakeRun("run-a", "prices", v1::RUN_STATE_PENDING)));
  EXPECT_TRUE(third->AwaitEvents(1));

  watches_.Close(absl::UnavailableError("shutting down"));
  EXPECT_EQ(third->AwaitEnd()->code(), absl::StatusCode::kUnavailable);
  std::shared_ptr<StreamRecord> refused = Watch({});
  EXPECT_EQ(refused->AwaitEnd()->message(), "shutting down");
}

}  // namespace
}  // namespace coffer::scheduler
