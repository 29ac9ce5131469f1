// The serving framework under concurrency, cancellation, deadlines, load
// shedding, handler mistakes and shutdown with calls in flight.
#include "common/grpc/async_server.h"

#include <atomic>
#include <latch>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "common/exec/stop_event.h"
#include "common/grpc/async_client.h"
#include "common/grpc/client_queue.h"
#include "tests/common/grpc/test_server.h"

namespace coffer::testing {
namespace {

using grpc_util::AsyncClient;
using grpc_util::CallOptions;
using grpc_util::ClientQueue;
using test::EchoReply;
using test::EchoRequest;
using test::TestService;

EchoRequest Echo(std::string text, int delay_ms = 0) {
  EchoRequest request;
  request.set_text(std::move(text));
  request.set_delay_ms(delay_ms);
  return request;
}

TEST(AsyncServerTest, AnswersUnaryCall) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  auto reply = client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, Echo("hello"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "hello");
}

TEST(AsyncServerTest, SlowCallsRunConcurrently) {
  // 50 calls whose handlers each take 200 ms finish together, far sooner
  // than 50 x 200 ms: nothing serializes them.
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  constexpr int kCalls = 50;
  std::latch finished(kCalls);
  std::atomic<int> ok{0};
  absl::Time start = absl::Now();
  for (int i = 0; i < kCalls; ++i) {
    client.Call(&TestService::Stub::PrepareAsyncEcho, Echo("x", 200),
                [&](absl::StatusOr<EchoReply> reply) {
                  if (reply.ok()) ok.fetch_add(1);
                  finished.count_down();
                });
  }
  finished.wait();
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(ok.load(), kCalls);
  EXPECT_LT(elapsed, absl::Milliseconds(kCalls * 200) / 2) << absl::FormatDuration(elapsed);
}

TEST(AsyncServerTest, ExpiredDeadlineIsReportedAndReachesHandler) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  CallOptions options;
  options.timeout = absl::Milliseconds(200);
  auto reply = client.CallBlocking(&TestService::Stub::PrepareAsyncHang, Echo("x"), options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  // The server sees the call cancelled too, and the handler is told.
  for (int i = 0; i < 500 && server.service().cancellations() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(server.service().cancellations(), 1);
}

TEST(AsyncServerTest, ClientCancelReachesHandler) {
  TestServer server;
  ClientQueue queue;
  grpc::ClientContext context;
  auto stub = TestService::NewStub(server.channel());
  EchoReply reply;
  grpc::Status status;
  std::thread caller([&] { status = stub->Hang(&context, Echo("x"), &reply); });
  for (int i = 0; i < 500 && server.service().hanging() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server.service().hanging(), 1);
  context.TryCancel();
  caller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 500 && server.service().cancellations() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(server.service().cancellations(), 1);
}

TEST(AsyncServerTest, RejectsPastInFlightLimit) {
  grpc_util::AsyncServer::Options options;
  options.max_in_flight_calls = 2;
  TestServer server(options);
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  std::latch hung(2);
  for (int i = 0; i < 2; ++i) {
    CallOptions hang_options;
    hang_options.timeout = absl::Seconds(30);
    client.Call(
        &TestService::Stub::PrepareAsyncHang, Echo("x"),
        [&](absl::StatusOr<EchoReply>) { hung.count_down(); }, hang_options);
  }
  for (int i = 0; i < 500 && server.service().hanging() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server.service().hanging(), 2);
  auto rejected = client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, Echo("x"));
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kResourceExhausted) << rejected.status();
  EXPECT_NE(rejected.status().message().find("retry"), std::string::npos);
  // Shutting down cancels the hung calls past the grace period.
  server.Shutdown(absl::Milliseconds(100));
  hung.wait();
}

TEST(AsyncServerTest, SecondDoneIsCaughtAndIgnored) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  uint64_t before = metrics::Registry::Global().GetCounter("grpc_server_done_misuse_total").Value();
  EchoRequest request = Echo("twice");
  request.set_answer_twice(true);
  auto reply = client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, request);
  ASSERT_TRUE(reply.ok()) << reply.status();  // the first answer wins
  EXPECT_EQ(reply->text(), "twice");
  // The handler's second Done may come after the first answer reached the
  // client: wait for it to be counted.
  metrics::Counter& misuse =
      metrics::Registry::Global().GetCounter("grpc_server_done_misuse_total");
  for (int i = 0; i < 500 && misuse.Value() < before + 1; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(misuse.Value(), before + 1);
}

TEST(AsyncServerTest, DroppedDoneAnswersInternal) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  EchoRequest request = Echo("dropped");
  request.set_drop_done(true);
  auto reply = client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, request);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal) << reply.status();
}

TEST(AsyncServerTest, ShutdownLetsInFlightCallsFinishWithinGrace) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  constexpr int kCalls = 20;
  std::latch finished(kCalls);
  std::atomic<int> ok{0};
  for (int i = 0; i < kCalls; ++i) {
    client.Call(&TestService::Stub::PrepareAsyncEcho, Echo("x", 300),
                [&](absl::StatusOr<EchoReply> reply) {
                  if (reply.ok()) ok.fetch_add(1);
                  finished.count_down();
                });
  }
  // Let the calls arrive, then shut down while they run.
  absl::SleepFor(absl::Milliseconds(100));
  server.Shutdown(absl::Seconds(10));
  finished.wait();
  EXPECT_EQ(ok.load(), kCalls);
}

TEST(AsyncServerTest, ShutdownCancelsCallsPastGrace) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  constexpr int kCalls = 10;
  std::latch finished(kCalls);
  std::atomic<int> failed{0};
  for (int i = 0; i < kCalls; ++i) {
    CallOptions options;
    options.timeout = absl::Seconds(30);
    client.Call(
        &TestService::Stub::PrepareAsyncHang, Echo("x"),
        [&](absl::StatusOr<EchoReply> reply) {
          if (!reply.ok()) failed.fetch_add(1);
          finished.count_down();
        },
        options);
  }
  for (int i = 0; i < 500 && server.service().hanging() < kCalls; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server.service().hanging(), kCalls);
  server.Shutdown(absl::Milliseconds(200));
  finished.wait();
  EXPECT_EQ(failed.load(), kCalls);
  EXPECT_EQ(server.service().cancellations(), kCalls);
}

TEST(AsyncServerTest, CallsAfterShutdownFailCleanly) {
  TestServer server;
  server.Shutdown(absl::ZeroDuration());
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  CallOptions options;
  options.timeout = absl::Seconds(2);
  auto reply = client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, Echo("late"), options);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
}

TEST(AsyncServerTest, ClientQueueShutdownCancelsItsCalls) {
  TestServer server;
  auto queue = std::make_unique<ClientQueue>();
  AsyncClient<TestService> client(server.channel(), queue.get());
  exec::StopEvent done;
  absl::Status status;
  CallOptions options;
  options.timeout = absl::Seconds(30);
  client.Call(
      &TestService::Stub::PrepareAsyncHang, Echo("x"),
      [&](absl::StatusOr<EchoReply> reply) {
        status = reply.status();
        done.Notify();
      },
      options);
  for (int i = 0; i < 500 && server.service().hanging() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  queue->Shutdown();
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  // A call started after shutdown fails at once.
  auto late = client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, Echo("late"));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
}

TEST(AsyncServerTest, AUnaryCallCancelledThroughItsHandleEndsAndReachesTheServer) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  exec::StopEvent done;
  absl::Status status;
  CallOptions options;
  options.timeout = absl::Seconds(60);  // far past the test: the cancel ends it
  grpc_util::CallHandle call = client.Call(
      &TestService::Stub::PrepareAsyncHang, Echo("x"),
      [&](absl::StatusOr<EchoReply> reply) {
        status = reply.status();
        done.Notify();
      },
      options);
  for (int i = 0; i < 500 && server.service().hanging() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server.service().hanging(), 1);
  call.Cancel();
  ASSERT_TRUE(done.WaitFor(absl::Seconds(20)));
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  for (int i = 0; i < 500 && server.service().cancellations() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(server.service().cancellations(), 1);
  call.Cancel();  // after the end: nothing
}

TEST(AsyncServerTest, RefusesAPortInUse) {
  TestServer first;
  grpc_util::AsyncServer::Options options;
  options.listen_address = absl::StrCat("127.0.0.1:", first.server().port());
  metrics::Registry registry;
  options.registry = &registry;
  grpc_util::AsyncServer second(options);
  absl::Status started = second.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable) << started;
}

TEST(AsyncServerTest, DebugModeReportsHandlersThatBlockThePoller) {
  grpc_util::AsyncServer::Options options;
  options.debug = true;
  options.slow_handler_threshold = absl::Milliseconds(20);
  TestServer server(options);
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  EchoRequest request = Echo("slow");
  request.set_block_poller_ms(60);
  ASSERT_TRUE(client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, request).ok());
  // The report follows the handler's return, which the reply may overtake.
  for (int i = 0; i < 500 && server.server().slow_handlers() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GE(server.server().slow_handlers(), 1u);
  EXPECT_GE(server.registry()
                .GetCounter("grpc_server_slow_handlers_total",
                            {{"method", "/coffer.test.TestService/Echo"}})
                .Value(),
            1u);
}

}  // namespace
}  // namespace coffer::testing
