// DependencyMonitor against real in-process health services that flip
// their status, and against a target where nothing listens. Rounds are
// paced by a fake clock: the monitor waiting for the next round's time is
// the sign that it has recorded the last one.
#include "services/scheduler/service/dependency_monitor.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "common/config/proto_timestamp.h"
#include "common/grpc/async_server.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/health_service.h"
#include "tests/services/scheduler/lease/fake_waitable_clock.h"

namespace coffer::scheduler {
namespace {

constexpr absl::Duration kInterval = absl::Seconds(2);

// An AsyncServer on a free loopback port serving grpc.health.v1 only.
class HealthServer {
 public:
  HealthServer() {
    grpc_util::AsyncServer::Options options;
    options.listen_address = "127.0.0.1:0";
    options.completion_queues = 1;
    options.enable_reflection = false;
    options.registry = &registry_;
    server_ = std::make_unique<grpc_util::AsyncServer>(options);
    health_.Register(*server_);
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
  }
  ~HealthServer() { server_->Shutdown(absl::ZeroDuration()); }

  std::string target() const { return absl::StrCat("127.0.0.1:", server_->port()); }
  grpc_util::HealthService& health() { return health_; }

 private:
  metrics::Registry registry_;
  grpc_util::HealthService health_;
  std::unique_ptr<grpc_util::AsyncServer> server_;
};

// What the listener was told, in order.
class Heard {
 public:
  void Add(const std::string& name, bool serving) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.emplace_back(name, serving);
  }
  std::vector<std::pair<std::string, bool>> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, bool>> calls_;
};

class DependencyMonitorTest : public ::testing::Test {
 protected:
  using HealthClient = DependencyMonitor::HealthClient;

  std::unique_ptr<HealthClient> ClientFor(const std::string& target) {
    return std::make_unique<HealthClient>(grpc_util::MakeChannel(target), &queue_);
  }

  std::unique_ptr<DependencyMonitor> MakeMonitor(std::vector<DependencyMonitor::Dependency> deps) {
    return std::make_unique<DependencyMonitor>(
        std::move(deps),
        DependencyMonitorOptions{.interval = kInterval, .timeout = absl::Seconds(5)}, &clock_,
        [this] { return absl::FromUnixSeconds(wall_seconds_.load()); },
        [this](const std::string& name, bool serving) { heard_.Add(name, serving); });
  }

  // The monitor has recorded round `n` (1-based) and waits for the next.
  bool AwaitRound(int n) { return clock_.AwaitBlockedWaiterUntil(start_ + n * kInterval); }

  void NextRound() { clock_.Advance(kInterval); }

  grpc_util::ClientQueue queue_{"test-client"};
  FakeWaitableClock clock_;
  const absl::Time start_ = clock_.Now();
  std::atomic<int64_t> wall_seconds_{1'700'000'000};
  Heard heard_;
};

TEST_F(DependencyMonitorTest, FollowsAServerThatFlips) {
  HealthServer storage;  // NOT_SERVING until told
  std::unique_ptr<HealthClient> client = ClientFor(storage.target());
  std::unique_ptr<DependencyMonitor> monitor =
      MakeMonitor({{.name = "storage", .target = storage.target(), .health = client.get()}});
  EXPECT_FALSE(monitor->IsServing("storage"));
  monitor->Start();

  ASSERT_TRUE(AwaitRound(1));
  EXPECT_FALSE(monitor->IsServing("storage"));
  EXPECT_FALSE(monitor->HasBeenServing("storage"));
  std::vector<v1::DependencyStatus> statuses = monitor->Statuses();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].name(), "storage");
  EXPECT_EQ(statuses[0].target(), storage.target());
  EXPECT_FALSE(statuses[0].serving());
  EXPECT_EQ(statuses[0].last_error().code(), v1::Error::UNAVAILABLE);
  EXPECT_NE(statuses[0].last_error().message().find("NOT_SERVING"), std::string::npos)
      << statuses[0].last_error().message();
  EXPECT_EQ(heard_.calls(), (std::vector<std::pair<std::string, bool>>{{"storage", false}}));

  storage.health().SetServing(true);
  wall_seconds_ += 60;
  NextRound();
  ASSERT_TRUE(AwaitRound(2));
  EXPECT_TRUE(monitor->IsServing("storage"));
  EXPECT_TRUE(monitor->HasBeenServing("storage"));
  statuses = monitor->Statuses();
  EXPECT_TRUE(statuses[0].serving());
  EXPECT_EQ(config::TimeFromProto(statuses[0].since()),
            absl::FromUnixSeconds(wall_seconds_.load()));
  EXPECT_EQ(heard_.calls().back(), std::make_pair(std::string("storage"), true));

  // A round that finds nothing changed keeps `since`, and still tells the
  // listener (a mirror heals if something overwrote it).
  const google::protobuf::Timestamp since = statuses[0].since();
  wall_seconds_ += 60;
  NextRound();
  ASSERT_TRUE(AwaitRound(3));
  EXPECT_EQ(monitor->Statuses()[0].since().seconds(), since.seconds());
  EXPECT_EQ(heard_.calls().size(), 3u);

  storage.health().SetServing(false);
  NextRound();
  ASSERT_TRUE(AwaitRound(4));
  EXPECT_FALSE(monitor->IsServing("storage"));
  EXPECT_TRUE(monitor->HasBeenServing("storage"));
  EXPECT_EQ(heard_.calls().back(), std::make_pair(std::string("storage"), false));
  monitor->Stop();
}

TEST_F(DependencyMonitorTest, NothingListeningIsNotServing) {
  HealthServer fetcher;
  fetcher.health().SetServing(true);
  // Bound and shut down at once: nothing listens there afterwards.
  std::string dead_target;
  { dead_target = HealthServer().target(); }
  std::unique_ptr<HealthClient> dead_client = ClientFor(dead_target);
  std::unique_ptr<HealthClient> fetcher_client = ClientFor(fetcher.target());
  std::unique_ptr<DependencyMonitor> monitor = MakeMonitor({
      {.name = "storage", .target = dead_target, .health = dead_client.get()},
      {.name = "fetcher", .target = fetcher.target(), .health = fetcher_client.get()},
  });
  monitor->Start();
  ASSERT_TRUE(AwaitRound(1));

  std::vector<v1::DependencyStatus> statuses = monitor->Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].name(), "storage");
  EXPECT_FALSE(statuses[0].serving());
  EXPECT_TRUE(statuses[0].last_error().code() == v1::Error::UNAVAILABLE ||
              statuses[0].last_error().code() == v1::Error::DEADLINE_EXCEEDED)
      << statuses[0].last_error().ShortDebugString();
  EXPECT_NE(statuses[0].last_error().message().find(dead_target), std::string::npos);
  EXPECT_EQ(statuses[1].name(), "fetcher");
  EXPECT_TRUE(statuses[1].serving());
  EXPECT_FALSE(monitor->IsServing("storage"));
  EXPECT_TRUE(monitor->IsServing("fetcher"));
  EXPECT_FALSE(monitor->IsServing("unknown"));
  EXPECT_FALSE(monitor->HasBeenServing("storage"));
  EXPECT_EQ(heard_.calls().size(), 2u);
}

TEST_F(DependencyMonitorTest, StopEndsTheRoundsAndIsIdempotent) {
  HealthServer storage;
  storage.health().SetServing(true);
  std::unique_ptr<HealthClient> client = ClientFor(storage.target());
  std::unique_ptr<DependencyMonitor> monitor =
      MakeMonitor({{.name = "storage", .target = storage.target(), .health = client.get()}});
  monitor->Start();
  ASSERT_TRUE(AwaitRound(1));
  monitor->Stop();
  monitor->Stop();
  const size_t heard = heard_.calls().size();
  NextRound();
  monitor->Start();  // after Stop: nothing
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(heard_.calls().size(), heard);
}

TEST_F(DependencyMonitorTest, StopWithoutStart) {
  std::unique_ptr<HealthClient> client = ClientFor("127.0.0.1:1");
  std::unique_ptr<DependencyMonitor> monitor =
      MakeMonitor({{.name = "storage", .target = "127.0.0.1:1", .health = client.get()}});
  monitor->Stop();
  EXPECT_TRUE(heard_.calls().empty());
  EXPECT_FALSE(monitor->Statuses()[0].has_last_error());
}

}  // namespace
}  // namespace coffer::scheduler
