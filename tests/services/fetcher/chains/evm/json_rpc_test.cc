#include "services/fetcher/chains/evm/json_rpc.h"

#include <string>

#include "absl/strings/str_cat.h"
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

TEST(JsonRpcTest, BuildsASingleRequestWithTheMethodEscaped) {
  EXPECT_EQ(BuildRequest({.id = 7, .method = "eth_chainId", .params = ""}),
            R"({"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]})");
  EXPECT_EQ(BuildRequest({.id = 1, .method = "a\"b", .params = "[1]"}),
            R"({"jsonrpc":"2.0","id":1,"method":"a\"b","params":[1]})");
  EXPECT_EQ(BuildBatchRequest({}), "[]");
}

TEST(JsonRpcTest, StringResultsAreUnquoted) {
  absl::StatusOr<BatchResponse> response =
      ParseBatchResponse(R"([{"id":1,"result":"0x1bc16d674ec80000"},{"id":2,"result":{"a":"b"}},)"
                         R"({"id":3,"result":"a\"b"},{"id":4,"result":18446744073709551615}])");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->results.at(1).string_result, "0x1bc16d674ec80000");
  EXPECT_EQ(response->results.at(1).result, R"("0x1bc16d674ec80000")");
  EXPECT_EQ(response->results.at(2).string_result, std::nullopt);
  EXPECT_EQ(response->results.at(3).string_result, "a\"b");
  EXPECT_EQ(response->results.at(4).result, "18446744073709551615") << "integers stay exact";
  EXPECT_EQ(response->results.at(3).result, R"("a\"b")") << "written back escaped";
}

// Answers larger than the parser's reusable buffers, parsed one after the
// other on one thread: each whole and exact, none leaking into the next.
TEST(JsonRpcTest, LargeAnswersParseWholeOneAfterAnother) {
  for (const size_t calls : {size_t{3}, size_t{5000}, size_t{2}}) {
    std::string body = "[";
    for (size_t i = 0; i < calls; ++i) {
      absl::StrAppend(&body, i == 0 ? "" : ",", R"({"jsonrpc":"2.0","id":)", i, R"(,"result":"0x)",
                      std::string(64, 'a'), absl::Hex(i), "\"}");
    }
    body += "]";
    absl::StatusOr<BatchResponse> response = ParseBatchResponse(body);
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->results.size(), calls);
    for (size_t i = 0; i < calls; ++i) {
      EXPECT_EQ(response->results.at(i).string_result,
                absl::StrCat("0x", std::string(64, 'a'), absl::Hex(i)));
    }
  }
}

TEST(JsonRpcTest, ReportsDuplicatedAndUnusableElements) {
  absl::StatusOr<BatchResponse> response = ParseBatchResponse(
      R"([{"id":1,"result":"0x1"},{"id":1,"error":{"code":1,"message":"x"}},{"id":1,"result":"0x3"},)"
      R"({"id":-1,"result":"0x1"},{"id":1.5,"result":"0x1"},{"id":"2","result":"0x1"},)"
      R"({"id":null,"result":"0x1"},[],"x",{"id":2,"result":"0x2"},)"
      R"({"id":9,"result":"0x9"}])");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->duplicate_ids, std::vector<uint64_t>{1}) << "reported once";
  EXPECT_EQ(response->unusable_elements, 6u);
  EXPECT_FALSE(response->results.contains(1));
  EXPECT_EQ(response->results.at(2).string_result, "0x2");
  // An id the caller never sent is there for the caller to ignore.
  EXPECT_TRUE(response->results.contains(9));
  EXPECT_FALSE(response->whole_error.has_value());
}

TEST(JsonRpcTest, AWholeBatchErrorWrappedInAnArray) {
  // Erigon since late 2025 and the JSON-RPC spec: an array of one error with
  // a null id.
  absl::StatusOr<BatchResponse> response = ParseBatchResponse(
      R"([{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":)"
      R"("batch limit 100 exceeded (can increase by --rpc.batch.limit). Requested batch of size: 401"}}])");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_TRUE(response->whole_error.has_value());
  EXPECT_EQ(response->whole_error->code, -32000);
  EXPECT_TRUE(response->results.empty());
  EXPECT_TRUE(IsBatchTooLarge(200, &*response->whole_error));
  // An error object with an id answers that call only.
  response = ParseBatchResponse(R"({"jsonrpc":"2.0","id":4,"error":{"code":3,"message":"no"}})");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(response->whole_error.has_value());
  ASSERT_TRUE(response->results.at(4).error.has_value());
}

TEST(JsonRpcTest, ErrorObjectsOfOddShapes) {
  absl::StatusOr<BatchResponse> response =
      ParseBatchResponse(R"([{"id":1,"error":"plain text"},{"id":2,"error":{"code":"x"}},)"
                         R"({"id":3,"error":{"code":-32000,"message":")" +
                         std::string(1000, 'm') + R"("}},{"id":4,"error":null,"result":"0x4"}])");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->results.at(1).error->message, "plain text");
  EXPECT_EQ(response->results.at(1).error->code, -32603);
  EXPECT_EQ(response->results.at(2).error->code, -32603);
  EXPECT_EQ(response->results.at(3).error->message.size(), 300u);
  EXPECT_FALSE(response->results.at(4).error.has_value()) << "a null error is no error";
  EXPECT_EQ(response->results.at(4).string_result, "0x4");
}

TEST(JsonRpcTest, ParsesASingleResponseForItsId) {
  absl::StatusOr<RpcResult> result = ParseResponse(R"({"jsonrpc":"2.0","id":7,"result":"0x1"})", 7);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->string_result, "0x1");
  result = ParseResponse(R"({"jsonrpc":"2.0","id":7,"error":{"code":3,"message":"reverted"}})", 7);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->error->message, "reverted");
  // The node could not read the request: no id, the error is the call's.
  result = ParseResponse(
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}})", 7);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->error->code, -32700);
  EXPECT_EQ(ParseResponse(R"({"jsonrpc":"2.0","id":8,"result":"0x1"})", 7).status().code(),
            absl::StatusCode::kDataLoss)
      << "another call's answer";
  EXPECT_EQ(ParseResponse("<html>", 7).status().code(), absl::StatusCode::kDataLoss);
}

TEST(JsonRpcTest, TrailingGarbageAndTruncationAreDataLoss) {
  const std::string good = R"([{"jsonrpc":"2.0","id":1,"result":"0x1"}])";
  ASSERT_TRUE(ParseBatchResponse(good).ok());
  EXPECT_TRUE(ParseBatchResponse(good + "\r\n").ok()) << "whitespace after the body is fine";
  EXPECT_EQ(ParseBatchResponse(good + "]").status().code(), absl::StatusCode::kDataLoss);
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_EQ(ParseBatchResponse(good.substr(0, cut)).status().code(), absl::StatusCode::kDataLoss)
        << cut;
  }
  // Deep but legal nesting inside a result is fine up to the limit.
  const std::string nested = std::string(60, '[') + std::string(60, ']');
  EXPECT_TRUE(ParseBatchResponse(R"([{"id":1,"result":)" + nested + "}]").ok());
  const std::string deeper = std::string(70, '[') + std::string(70, ']');
  EXPECT_EQ(ParseBatchResponse(R"([{"id":1,"result":)" + deeper + "}]").status().code(),
            absl::StatusCode::kDataLoss);
  // Brackets inside strings do not count.
  EXPECT_TRUE(
      ParseBatchResponse(R"([{"id":1,"result":")" + std::string(1000, '[') + R"("}])").ok());
}

TEST(JsonRpcTest, KnownBatchLimitWordings) {
  for (const char* message : {
           "batch too large",                                            // geth
           "response too large",                                         // geth
           "batch limit 100 exceeded: 142 requests given",               // Erigon
           "Batch size limit exceeded",                                  // Nethermind
           "Number of requests in batch exceeds --rpc-max-batch-size.",  // Besu
           "The batch request was too large",                            // reth / jsonrpsee
           "Response is too big",                                        // jsonrpsee
           "Maximum batch size is 1000",                                 // hosted nodes
           "BATCH TOO LARGE",
       }) {
    const RpcError error{.code = -32005, .message = message};
    EXPECT_TRUE(IsBatchTooLarge(200, &error)) << message;
    EXPECT_FALSE(IsRateLimited(200, &error)) << message;
  }
  const RpcError reverted{.code = 3, .message = "execution reverted: ERC20: too large"};
  EXPECT_FALSE(IsBatchTooLarge(200, &reverted));
  EXPECT_FALSE(IsBatchTooLarge(500, nullptr));
}

TEST(JsonRpcTest, KnownRateLimitWordings) {
  for (const RpcError& error : {
           RpcError{.code = -32005, .message = "limit exceeded"},  // Infura
           RpcError{.code = -32005,
           .message = "daily request count exceeded, request rate limited"},
           RpcError{.code = 429,
           .message = "Your app has exceeded its compute units per second capacity."},
           RpcError{.code = -32000, .message = "Too Many Requests"},
           RpcError{.code = -32603, .message = "rate limit reached"},
       }) {
    EXPECT_TRUE(IsRateLimited(200, &error)) << error.message;
    EXPECT_FALSE(IsBatchTooLarge(200, &error)) << error.message;
  }
  const RpcError gas{.code = -32000, .message = "gas limit exceeded"};
  EXPECT_FALSE(IsRateLimited(200, &gas)) << "out of gas is the call's fault";
  EXPECT_FALSE(IsRateLimited(503, nullptr));
}

}  // namespace
}  // namespace coffer::fetcher::evm
