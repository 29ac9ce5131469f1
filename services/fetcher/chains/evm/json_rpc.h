// JSON-RPC 2.0 as the fetcher speaks it to EVM nodes: batch arrays out,
// answers matched by id in (never by position: nodes may answer a batch in
// any order, leave calls out, or answer a whole batch with one error).
//
//   std::string body = BuildBatchRequest({{.id = 0, .method = "eth_blockNumber",
//                                          .params = "[]"}});
//   absl::StatusOr<BatchResponse> answer = ParseBatchResponse(http_body);
//   if (answer.ok() && !answer->whole_error) { ... answer->results.find(0) ... }
//
// Bodies are untrusted: anything but a JSON array of response objects (or
// one error object for the whole batch) is DATA_LOSS for the whole body;
// an element that is malformed is left out, so its call reads as
// unanswered.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_JSON_RPC_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_JSON_RPC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::fetcher::evm {

struct JsonRpcCall {
  uint64_t id = 0;
  std::string method;
  // The params array as JSON text.
  std::string params;
};

struct RpcError {
  int64_t code = 0;
  std::string message;
};

// One call's answer: its result as JSON text, or the node's error.
struct RpcResult {
  std::optional<RpcError> error;
  std::string result;
};

struct BatchResponse {
  // By id. An id answered twice keeps neither: the node is confused.
  absl::flat_hash_map<uint64_t, RpcResult> results;
  // Set when the node answered the whole batch with one error object.
  std::optional<RpcError> whole_error;
};

// A JSON array of request objects.
std::string BuildBatchRequest(const std::vector<JsonRpcCall>& calls);

[[nodiscard]] absl::StatusOr<BatchResponse> ParseBatchResponse(absl::string_view body);

// Whether the node refused a batch for its size: HTTP 413 or 414, or a
// JSON-RPC error saying so (geth "batch too large", "batch limit
// exceeded", Erigon/Nethermind/hosted-node variants).
bool IsBatchTooLarge(int http_status, const RpcError* error);

// Whether the node refused for a rate limit: HTTP 429, or a JSON-RPC error
// such as -32005 "limit exceeded" / "rate limit".
bool IsRateLimited(int http_status, const RpcError* error);

}  // namespace coffer::fetcher::evm

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_JSON_RPC_H_
