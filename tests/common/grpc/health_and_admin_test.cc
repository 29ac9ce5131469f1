// The services every coffer server carries: grpc.health.v1, coffer.v1.Admin
// and server reflection.
#include <mutex>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include <grpcpp/grpcpp.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "common/exec/stop_event.h"
#include "common/grpc/async_client.h"
#include "tests/common/grpc/test_server.h"
#include "tests/testing/reflection_client.h"

namespace coffer::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using grpc_util::AsyncClient;
using grpc_util::ClientQueue;

TEST(HealthTest, NotServingUntilReady) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<Health> health(server.channel(), &queue);
  HealthCheckRequest request;
  auto before = health.CallBlocking(&Health::Stub::PrepareAsyncCheck, request);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->status(), HealthCheckResponse::NOT_SERVING);

  server.health().SetServing(true);
  auto after = health.CallBlocking(&Health::Stub::PrepareAsyncCheck, request);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status(), HealthCheckResponse::SERVING);

  request.set_service("coffer.test.TestService");
  auto named = health.CallBlocking(&Health::Stub::PrepareAsyncCheck, request);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->status(), HealthCheckResponse::SERVING);

  request.set_service("no.such.Service");
  auto unknown = health.CallBlocking(&Health::Stub::PrepareAsyncCheck, request);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

// A name set on its own (the scheduler's view of a dependency) is not the
// service's own readiness: SetServing(bool) leaves it as it was.
TEST(HealthTest, OverallStatusLeavesSeparatelySetNamesAlone) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<Health> health(server.channel(), &queue);
  server.health().SetServing("storage", false);
  server.health().SetServing(true);
  HealthCheckRequest request;
  request.set_service("storage");
  auto dependency = health.CallBlocking(&Health::Stub::PrepareAsyncCheck, request);
  ASSERT_TRUE(dependency.ok()) << dependency.status();
  EXPECT_EQ(dependency->status(), HealthCheckResponse::NOT_SERVING);
  request.set_service("coffer.test.TestService");
  auto own = health.CallBlocking(&Health::Stub::PrepareAsyncCheck, request);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->status(), HealthCheckResponse::SERVING);
}

TEST(HealthTest, WatchSeesChangesAndShutdown) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<Health> health(server.channel(), &queue);
  std::mutex mu;
  std::vector<HealthCheckResponse::ServingStatus> seen;
  exec::StopEvent done;
  absl::Status final_status;
  grpc_util::CallOptions options;
  options.timeout = absl::Seconds(30);
  health.Stream(
      &Health::Stub::PrepareAsyncWatch, HealthCheckRequest(),
      [&](const HealthCheckResponse& update) {
        std::lock_guard lock(mu);
        seen.push_back(update.status());
      },
      [&](absl::Status status) {
        final_status = status;
        done.Notify();
      },
      options);
  auto seen_count = [&] {
    std::lock_guard lock(mu);
    return seen.size();
  };
  for (int i = 0; i < 500 && seen_count() < 1; ++i) absl::SleepFor(absl::Milliseconds(10));
  server.health().SetServing(true);
  for (int i = 0; i < 500 && seen_count() < 2; ++i) absl::SleepFor(absl::Milliseconds(10));
  server.Shutdown(absl::Seconds(5));
  done.Wait();
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(seen[1], HealthCheckResponse::SERVING);
  EXPECT_EQ(seen[2], HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(final_status.code(), absl::StatusCode::kUnavailable) << final_status;
}

// A 10,000-account snapshot is larger than gRPC's default limit of 4 MiB:
// servers and channels take messages up to kMaxMessageBytes both ways.
TEST(AdminTest, MessagesBeyondGrpcsDefaultLimitGetThrough) {
  TestServer server;
  server.health().SetServing(true);
  ClientQueue queue;
  AsyncClient<v1::Admin> admin(server.channel(), &queue);
  v1::PingRequest ping;
  ping.set_payload(std::string(6 << 20, 'x'));
  auto pong = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncPing, ping);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->payload().size(), ping.payload().size());
}

TEST(AdminTest, StatusPingAndMetrics) {
  TestServer server;
  server.health().SetServing(true);
  ClientQueue queue;
  AsyncClient<v1::Admin> admin(server.channel(), &queue);

  v1::PingRequest ping;
  ping.set_payload("abc");
  auto pong = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncPing, ping);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->payload(), "abc");

  auto status = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->service(), "coffer-test");
  EXPECT_TRUE(status->ready());
  EXPECT_EQ(status->completion_queues(), 2);
  EXPECT_GE(status->in_flight_calls(), 1);  // this call

  v1::GetMetricsRequest metrics_request;
  metrics_request.set_include_prometheus_text(true);
  auto metrics = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncGetMetrics, metrics_request);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  bool found_ping = false;
  for (const auto& method : metrics->methods()) {
    if (method.method() == "/coffer.v1.Admin/Ping") {
      found_ping = true;
      EXPECT_EQ(method.calls(), 1u);
      EXPECT_EQ(method.latency().count(), 1u);
      EXPECT_GT(method.latency().max_ms(), 0.0);
    }
  }
  EXPECT_TRUE(found_ping);
  EXPECT_NE(metrics->prometheus_text().find("grpc_server_calls_total"), std::string::npos);
}

TEST(AdminTest, ErrorsAreCountedByCode) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<v1::Admin> admin(server.channel(), &queue);
  v1::SetLogLevelRequest bad;
  bad.set_level("loud");
  auto reply = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, bad);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);

  auto metrics =
      admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncGetMetrics, v1::GetMetricsRequest());
  ASSERT_TRUE(metrics.ok());
  bool found = false;
  for (const auto& method : metrics->methods()) {
    if (method.method() != "/coffer.v1.Admin/SetLogLevel") continue;
    found = true;
    EXPECT_EQ(method.errors_by_code().at("INVALID_ARGUMENT"), 1u);
  }
  EXPECT_TRUE(found);

  v1::SetLogLevelRequest good;
  good.set_level("debug");
  auto changed = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, good);
  ASSERT_TRUE(changed.ok()) << changed.status();
  good.set_level(changed->previous_level());
  ASSERT_TRUE(admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, good).ok());
}

TEST(ReflectionTest, ListsEveryService) {
  TestServer server;
  absl::StatusOr<std::vector<std::string>> listed = ReflectedServices(server.channel());
  ASSERT_TRUE(listed.ok()) << listed.status();
  const std::vector<std::string>& names = *listed;
  EXPECT_NE(std::find(names.begin(), names.end(), "coffer.v1.Admin"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "coffer.test.TestService"), names.end());
}

}  // namespace
}  // namespace coffer::testing
