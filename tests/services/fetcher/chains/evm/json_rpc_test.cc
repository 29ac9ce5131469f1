#include "services/fetcher/chains/evm/json_rpc.h"

#include <string>

#include "gtest/gtest.h"

namespace coffer::fetcher::evm {
namespace {

TEST(JsonRpcTest, BuildsABatchArray) {
  EXPECT_EQ(
      BuildBatchRequest({{.id = 3, .method = "eth_blockNumber", .params = "[]"},
                         {.id = 4, .method = "eth_getBalance", .params = R"(["0x01","latest"])"}}),
      R"([{"jsonrpc":"2.0","id":3,"method":"eth_blockNumber","params":[]},)"
      R"({"jsonrpc":"2.0","id":4,"method":"eth_getBalance","params":["0x01","latest"]}])");
}

TEST(JsonRpcTest, MatchesAnswersByIdWhateverTheirOrder) {
  absl::StatusOr<BatchResponse> response = ParseBatchResponse(
      R"([{"jsonrpc":"2.0","id":2,"result":"0x2"},)"
      R"({"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted"}},)"
      R"({"jsonrpc":"2.0","id":0,"result":{"number":"0x1"}}])");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results.size(), 3u);
  EXPECT_EQ(response->results.at(2).result, R"("0x2")");
  EXPECT_EQ(response->results.at(0).result, R"({"number":"0x1"})");
  ASSERT_TRUE(response->results.at(1).error.has_value());
  EXPECT_EQ(response->results.at(1).error->code, 3);
  EXPECT_EQ(response->results.at(1).error->message, "execution reverted");
  EXPECT_FALSE(response->whole_error.has_value());
}

TEST(JsonRpcTest, MissingDuplicatedAndMalformedAnswersAreLeftOut) {
  absl::StatusOr<BatchResponse> response = ParseBatchResponse(
      R"([{"id":1,"result":"0x1"},{"id":1,"result":"0x2"},{"id":"x","result":"0x3"},)"
      R"(7,{"id":5},{"id":6,"result":null}])");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(response->results.contains(1)) << "answered twice: trusted neither";
  EXPECT_FALSE(response->results.contains(5)) << "neither result nor error";
  ASSERT_TRUE(response->results.contains(6));
  EXPECT_EQ(response->results.at(6).result, "null");
}

TEST(JsonRpcTest, OneErrorForTheWholeBatch) {
  absl::StatusOr<BatchResponse> response = ParseBatchResponse(
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}})");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->whole_error.has_value());
  EXPECT_TRUE(IsBatchTooLarge(200, &*response->whole_error));
}

TEST(JsonRpcTest, GarbageIsDataLoss) {
  for (const char* bad :
       {"", "<html>502 Bad Gateway</html>", "[{\"id\":1,\"result\":", "42", "\"text\""}) {
    EXPECT_EQ(ParseBatchResponse(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  EXPECT_EQ(ParseBatchResponse(std::string(100000, '[')).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(JsonRpcTest, RecognizesBatchLimitsAndRateLimits) {
  EXPECT_TRUE(IsBatchTooLarge(413, nullptr));
  EXPECT_TRUE(IsBatchTooLarge(414, nullptr));
  const RpcError geth{.code = -32600, .message = "batch too large"};
  const RpcError erigon{.code = -32600, .message = "batch limit 100 exceeded"};
  const RpcError limited{.code = -32005, .message = "limit exceeded"};
  const RpcError reverted{.code = 3, .message = "execution reverted"};
  EXPECT_TRUE(IsBatchTooLarge(200, &geth));
  EXPECT_TRUE(IsBatchTooLarge(200, &erigon));
  EXPECT_FALSE(IsBatchTooLarge(200, &reverted));
  EXPECT_FALSE(IsRateLimited(200, &erigon)) << "a batch limit is not a rate limit";
  EXPECT_TRUE(IsRateLimited(200, &limited));
  EXPECT_TRUE(IsRateLimited(429, nullptr));
  EXPECT_FALSE(IsRateLimited(200, &reverted));
}

}  // namespace
}  // namespace coffer::fetcher::evm
