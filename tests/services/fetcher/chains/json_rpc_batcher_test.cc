#include "services/fetcher/chains/json_rpc_batcher.h"

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace coffer::fetcher {
namespace {

// Answers synchronously through a function of (endpoint, ids in the batch).
class FakeTransport : public UpstreamTransport {
 public:
  using Answer = std::function<absl::StatusOr<UpstreamReply>(size_t, const std::vector<int>&)>;
  explicit FakeTransport(Answer answer) : answer_(std::move(answer)) {}

  void Send(size_t endpoint, UpstreamRequest request, Done done) override {
    rapidjson::Document document;
    document.Parse(request.body.c_str());
    std::vector<int> ids;
    for (const rapidjson::Value& call : document.GetArray()) ids.push_back(call["id"].GetInt());
    sent.push_back({endpoint, ids.size()});
    done(answer_(endpoint, ids));
  }

  // (endpoint, batch size) of every request, in order.
  std::vector<std::pair<size_t, size_t>> sent;

 private:
  Answer answer_;
};

// A batch answer giving each id the result "0x<id>", in reverse order.
UpstreamReply Results(const std::vector<int>& ids) {
  std::vector<std::string> answers;
  for (auto id = ids.rbegin(); id != ids.rend(); ++id) {
    answers.push_back(
        absl::StrCat(R"({"jsonrpc":"2.0","id":)", *id, R"(,"result":"0x)", *id, R"("})"));
  }
  return {.http_status = 200, .body = absl::StrCat("[", absl::StrJoin(answers, ","), "]")};
}

EndpointSet Endpoints(size_t batch_size) {
  return EndpointSet({{.name = "primary", .host = "a", .batch_size = batch_size},
                      {.name = "fallback", .host = "b", .batch_size = batch_size}});
}

std::vector<RpcCall> Calls(int n) {
  return std::vector<RpcCall>(n, RpcCall{"eth_blockNumber", "[]"});
}

// Runs a Send to completion (the fake is synchronous): outcomes by index.
std::map<size_t, RpcOutcome> SendAll(JsonRpcBatcher& batcher, int n) {
  std::map<size_t, RpcOutcome> outcomes;
  batcher.Send(Calls(n), absl::InfiniteFuture(), [&outcomes](std::vector<RpcOutcome> chunk) {
    for (RpcOutcome& outcome : chunk) {
      EXPECT_TRUE(outcomes.emplace(outcome.index, outcome).second) << "answered twice";
    }
  });
  return outcomes;
}

TEST(JsonRpcBatcherTest, SplitsIntoTheEndpointsBatchSizeAndMatchesById) {
  EndpointSet endpoints = Endpoints(4);
  FakeTransport transport([](size_t, const std::vector<int>& ids) { return Results(ids); });
  JsonRpcBatcher batcher(&endpoints, &transport);
  std::map<size_t, RpcOutcome> outcomes = SendAll(batcher, 10);
  ASSERT_EQ(outcomes.size(), 10u);
  for (auto& [index, outcome] : outcomes) {
    ASSERT_TRUE(outcome.result.ok()) << outcome.result.status();
    EXPECT_EQ(*outcome.result, absl::StrCat("\"0x", index, "\""));
    EXPECT_EQ(outcome.upstream, "primary");
  }
  EXPECT_EQ(transport.sent, (std::vector<std::pair<size_t, size_t>>{{0, 4}, {0, 4}, {0, 2}}));
}

TEST(JsonRpcBatcherTest, ABatchRefusedAsTooLargeIsHalvedAndTheSizeRemembered) {
  EndpointSet endpoints = Endpoints(100);
  FakeTransport transport([](size_t, const std::vector<int>& ids) -> absl::StatusOr<UpstreamReply> {
    if (ids.size() > 3) return UpstreamReply{.http_status = 413, .body = "too large"};
    return Results(ids);
  });
  JsonRpcBatcher batcher(&endpoints, &transport);
  std::map<size_t, RpcOutcome> outcomes = SendAll(batcher, 8);
  ASSERT_EQ(outcomes.size(), 8u);
  for (auto& [index, outcome] : outcomes) EXPECT_TRUE(outcome.result.ok()) << index;
  EXPECT_EQ(endpoints.BatchSize(0), 2u);
  transport.sent.clear();
  SendAll(batcher, 4);
  EXPECT_EQ(transport.sent, (std::vector<std::pair<size_t, size_t>>{{0, 2}, {0, 2}}));
}

TEST(JsonRpcBatcherTest, AFailingEndpointIsSkippedForTheNext) {
  EndpointSet endpoints = Endpoints(100);
  FakeTransport transport(
      [](size_t endpoint, const std::vector<int>& ids) -> absl::StatusOr<UpstreamReply> {
        if (endpoint == 0)
          return UpstreamReply{.http_status = 429, .retry_after = absl::Seconds(30)};
        return Results(ids);
      });
  JsonRpcBatcher batcher(&endpoints, &transport);
  std::map<size_t, RpcOutcome> outcomes = SendAll(batcher, 3);
  for (auto& [index, outcome] : outcomes) {
    EXPECT_TRUE(outcome.result.ok()) << index;
    EXPECT_EQ(outcome.upstream, "fallback");
  }
  EXPECT_EQ(endpoints.Health(0, absl::Now()).state, EndpointHealth::State::kCoolingDown);
  // The next request goes straight to the fallback.
  transport.sent.clear();
  SendAll(batcher, 1);
  EXPECT_EQ(transport.sent, (std::vector<std::pair<size_t, size_t>>{{1, 1}}));
}

TEST(JsonRpcBatcherTest, GarbageAndMissingAnswersNeverBecomeResults) {
  EndpointSet endpoints = Endpoints(100);
  FakeTransport transport(
      [](size_t endpoint, const std::vector<int>& ids) -> absl::StatusOr<UpstreamReply> {
        if (endpoint == 0) return UpstreamReply{.http_status = 200, .body = "<html>oops"};
        // The fallback leaves the last call out.
        std::vector<int> answered(ids.begin(), ids.end() - 1);
        return Results(answered);
      });
  JsonRpcBatcher batcher(&endpoints, &transport);
  std::map<size_t, RpcOutcome> outcomes = SendAll(batcher, 3);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes.at(0).result.ok());
  EXPECT_TRUE(outcomes.at(1).result.ok());
  EXPECT_EQ(outcomes.at(2).result.status().code(), absl::StatusCode::kDataLoss);
}

TEST(JsonRpcBatcherTest, NoEndpointLeftIsUnavailableWithTheLastError) {
  EndpointSet endpoints = Endpoints(100);
  FakeTransport transport([](size_t, const std::vector<int>&) -> absl::StatusOr<UpstreamReply> {
    return absl::UnavailableError("connection refused");
  });
  JsonRpcBatcher batcher(&endpoints, &transport);
  std::map<size_t, RpcOutcome> outcomes = SendAll(batcher, 2);
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes.at(0).result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(outcomes.at(0).result.status().message().find("connection refused"), std::string::npos);
  EXPECT_EQ(outcomes.at(0).upstream, "fallback");
  EXPECT_EQ(transport.sent.size(), 2u) << "each endpoint tried once";
}

TEST(JsonRpcBatcherTest, ANodesErrorForOneCallIsThatCallsOutcome) {
  EndpointSet endpoints = Endpoints(100);
  FakeTransport transport([](size_t, const std::vector<int>&) -> absl::StatusOr<UpstreamReply> {
    return UpstreamReply{
        .http_status = 200,
        .body = R"([{"id":0,"result":"0x1"},{"id":1,"error":{"code":3,"message":"reverted"}}])"};
  });
  JsonRpcBatcher batcher(&endpoints, &transport);
  std::map<size_t, RpcOutcome> outcomes = SendAll(batcher, 2);
  EXPECT_TRUE(outcomes.at(0).result.ok());
  EXPECT_EQ(outcomes.at(1).result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(transport.sent.size(), 1u) << "not the endpoint's failure: no retry elsewhere";
}

TEST(JsonRpcBatcherTest, CallsOfACancelledClientAreNotSent) {
  EndpointSet endpoints = Endpoints(2);
  FakeTransport transport([](size_t, const std::vector<int>& ids) { return Results(ids); });
  JsonRpcBatcher batcher(&endpoints, &transport);
  bool gone = false;
  std::map<size_t, RpcOutcome> outcomes;
  batcher.Send(
      Calls(6), absl::InfiniteFuture(),
      [&](std::vector<RpcOutcome> chunk) {
        for (RpcOutcome& outcome : chunk) outcomes.emplace(outcome.index, outcome);
        gone = true;  // the client leaves after the first batch
      },
      [&gone] { return gone; });
  ASSERT_EQ(outcomes.size(), 6u);
  EXPECT_TRUE(outcomes.at(0).result.ok());
  EXPECT_EQ(outcomes.at(5).result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(transport.sent.size(), 1u);
}

}  // namespace
}  // namespace coffer::fetcher
