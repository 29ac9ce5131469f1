// How calls find replicas: MakeChannel's channels spread calls round robin
// over every address a target resolves to (a headless Service's pods), and
// a server's max_connection_age makes clients reconnect (and so resolve the
// name again, finding replicas added since).
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "common/grpc/async_client.h"
#include "common/grpc/channel.h"
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

CallOptions WaitingOptions() {
  CallOptions options;
  options.wait_for_ready = true;
  options.timeout = absl::Seconds(10);
  return options;
}

TEST(ConnectionSpreadTest, CallsGoRoundRobinOverEveryAddressOfTheTarget) {
  TestServer first;
  TestServer second;
  // One target, two addresses: what a headless Service's name resolves to.
  const std::string target =
      absl::StrCat("ipv4:127.0.0.1:", first.server().port(), ",127.0.0.1:", second.server().port());
  ClientQueue queue;
  AsyncClient<TestService> client(grpc_util::MakeChannel(target), &queue);
  EchoRequest request;
  request.set_text("spread");
  // Until both subchannels are connected the ready one takes every call;
  // from then on they alternate.
  int calls = 0;
  while (calls < 200 && (first.service().echoes() == 0 || second.service().echoes() == 0)) {
    auto reply =
        client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, request, WaitingOptions());
    ASSERT_TRUE(reply.ok()) << reply.status();
    ++calls;
  }
  EXPECT_GT(first.service().echoes(), 0) << "after " << calls << " calls";
  EXPECT_GT(second.service().echoes(), 0) << "after " << calls << " calls";

  const int first_before = first.service().echoes();
  const int second_before = second.service().echoes();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, request, WaitingOptions()).ok());
  }
  EXPECT_EQ(first.service().echoes() - first_before, 10);
  EXPECT_EQ(second.service().echoes() - second_before, 10);
}

// The client addresses (one per connection) that `server` saw over `span`
// of calls 50 ms apart on one channel.
std::set<std::string> PeersOver(TestServer& server, absl::Duration span) {
  ClientQueue queue;
  AsyncClient<TestService> client(server.channel(), &queue);
  EchoRequest request;
  request.set_text("age");
  std::set<std::string> peers;
  const absl::Time end = absl::Now() + span;
  while (absl::Now() < end) {
    auto reply =
        client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, request, WaitingOptions());
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (reply.ok()) peers.insert(reply->peer());
    absl::SleepFor(absl::Milliseconds(50));
  }
  return peers;
}

TEST(ConnectionSpreadTest, MaxConnectionAgeMakesClientsReconnect) {
  grpc_util::AsyncServer::Options options;
  options.max_connection_age = absl::Milliseconds(500);
  options.max_connection_age_grace = absl::Seconds(1);
  TestServer server(options);
  // Every call succeeded (checked inside) across several connections.
  EXPECT_GE(PeersOver(server, absl::Seconds(3)).size(), 2u);
}

TEST(ConnectionSpreadTest, WithoutMaxConnectionAgeOneConnectionServesEveryCall) {
  TestServer server;
  EXPECT_EQ(PeersOver(server, absl::Seconds(1)).size(), 1u);
}

}  // namespace
}  // namespace coffer::testing
