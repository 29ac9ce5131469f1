// Server streaming: ordered delivery of writes made from another thread,
// client cancellation mid-stream, and shutdown with streams open.
#include <vector>

#include "gtest/gtest.h"

#include "common/exec/stop_event.h"
#include "common/grpc/async_client.h"
#include "common/grpc/server_stream_call.h"
#include "tests/common/grpc/test_server.h"

namespace coffer::testing {
namespace {

using grpc_util::AsyncClient;
using grpc_util::ClientQueue;
using test::CountReply;
using test::CountRequest;
using test::TestService;

CountRequest Count(int count, int delay_ms = 0) {
  CountRequest request;
  request.set_count(count);
  request.set_delay_ms(delay_ms);
  return request;
}

TEST(ServerStreamTest, DeliversEveryMessageInOrder) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  std::vector<int> received;
  exec::StopEvent done;
  absl::Status status;
  client.Stream(
      &TestService::Stub::PrepareAsyncCount, Count(1000),
      [&](const CountReply& reply) { received.push_back(reply.n()); },
      [&](absl::Status final_status) {
        status = final_status;
        done.Notify();
      });
  done.Wait();
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(received.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(received[i], i);
}

TEST(ServerStreamTest, ClientCancelEndsStream) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  exec::StopEvent first;
  exec::StopEvent done;
  absl::Status status;
  int received = 0;
  grpc_util::CallHandle handle = client.Stream(
      &TestService::Stub::PrepareAsyncCount, Count(100000, 1),
      [&](const CountReply&) {
        if (++received == 1) first.Notify();
      },
      [&](absl::Status final_status) {
        status = final_status;
        done.Notify();
      });
  first.Wait();
  handle.Cancel();
  done.Wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_LT(received, 100000);
  handle.Cancel();  // harmless after the end
}

TEST(ServerStreamTest, ShutdownWithOpenStreams) {
  TestServer server;
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  exec::StopEvent first;
  exec::StopEvent done;
  int received = 0;
  client.Stream(
      &TestService::Stub::PrepareAsyncCount, Count(100000, 1),
      [&](const CountReply&) {
        if (++received == 1) first.Notify();
      },
      [&](absl::Status) { done.Notify(); });
  first.Wait();
  server.Shutdown(absl::Milliseconds(100));
  done.Wait();
}

}  // namespace
}  // namespace coffer::testing
