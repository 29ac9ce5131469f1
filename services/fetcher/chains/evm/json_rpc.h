// JSON-RPC 2.0 as the fetcher speaks it to EVM nodes: request bodies out,
// answers matched by id in (never by position: nodes may answer a batch in
// any order, leave calls out, answer one twice, or answer a whole batch
// with one error object).
//
//   std::string body = BuildBatchRequest({{.id = 0, .method = "eth_blockNumber",
//                                          .params = "[]"}});
//   absl::StatusOr<BatchResponse> answer = ParseBatchResponse(http_body);
//   if (!answer.ok()) ...                  // the body as a whole: not JSON-RPC
//   else if (answer->whole_error) ...      // the node refused the whole batch
//   else if (auto it = answer->results.find(0); it == answer->results.end()) ...  // left out
//   else if (it->second.error) ...         // this call failed
//   else Use(*it->second.string_result);   // "0x..."
//
// Three levels of failure stay apart: a body that is not JSON-RPC at all
// (a non-OK status: DATA_LOSS, naming what is wrong), one error for the
// whole batch (`whole_error`, `results` then empty), and per-call outcomes
// (`results`, by id). An id the caller sent but does not find was left out
// by the node, or answered unusably (`duplicate_ids`, `unusable_elements`
// say which, for the error the caller reports); ids the caller did not
// send may appear and are for the caller to ignore.
//
// Bodies are untrusted: any size, nesting (refused past 64 levels, before
// RapidJSON's recursive parser sees it), types and garbage are handled.
// Integer results up to 64 bits keep their exact text; other JSON numbers
// inside a result are re-written through double (EVM nodes answer
// quantities as hex strings, so amounts never take that path).
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_JSON_RPC_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_JSON_RPC_H_

#include <cstddef>
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
  // The method name (escaped as a JSON string when written).
  std::string method;
  // The params array as JSON text; empty means "[]".
  std::string params;
};

struct RpcError {
  // -32603 (internal error) when the node gave no integer code.
  int64_t code = 0;
  // At most 300 bytes: it ends up in item errors people read.
  std::string message;
};

// One call's answer: its result, or the node's error.
struct RpcResult {
  std::optional<RpcError> error;
  // The result as JSON text ("\"0x2a\"", "{...}", "null"); empty with an
  // error.
  std::string result;
  // The result's value when it is a JSON string (most EVM results: "0x..."),
  // unescaped; nullopt for any other type or with an error.
  std::optional<std::string> string_result;
};

struct BatchResponse {
  // By id. An id answered twice keeps neither: the node is confused.
  absl::flat_hash_map<uint64_t, RpcResult> results;
  // Set when the node answered the whole batch with one error: an object
  // (geth, Erigon) or an array of one error without an id.
  std::optional<RpcError> whole_error;
  // Ids answered more than once (and so not in `results`).
  std::vector<uint64_t> duplicate_ids;
  // Array elements left out: not an object, no unsigned integer id, or
  // neither a result nor an error.
  size_t unusable_elements = 0;
};

// One request object.
std::string BuildRequest(const JsonRpcCall& call);

// A JsonRpcCall whose method and params live elsewhere: a batch built
// from the caller's own storage without copying every call.
struct JsonRpcCallView {
  uint64_t id = 0;
  absl::string_view method;
  absl::string_view params;
};

// A JSON array of request objects.
std::string BuildBatchRequest(const std::vector<JsonRpcCall>& calls);
std::string BuildBatchRequestFromViews(const std::vector<JsonRpcCallView>& calls);

// A batch answer (a lone response object is taken as a batch of one).
[[nodiscard]] absl::StatusOr<BatchResponse> ParseBatchResponse(absl::string_view body);

// The answer to one request of id `id`: its result or error (an error
// without an id is the node refusing the request, and is returned as the
// call's error). DATA_LOSS when the body is not JSON-RPC or does not
// answer `id`.
[[nodiscard]] absl::StatusOr<RpcResult> ParseResponse(absl::string_view body, uint64_t id);

// Whether the node refused a batch for its size, so that halving it may
// help: HTTP 413 or 414, or a JSON-RPC error saying the batch, request or
// response is too large (geth, Erigon, Nethermind, Besu, reth/jsonrpsee and
// hosted-node wordings; matched case-insensitively on stable phrases).
bool IsBatchTooLarge(int http_status, const RpcError* error);

// Whether the node refused for a rate limit: HTTP 429, or a JSON-RPC error
// with code -32005 (EIP-1474 "limit exceeded") or 429, or a message such as
// "rate limit", "too many requests", Alchemy's "exceeded its compute units".
// Never true for what IsBatchTooLarge recognizes (Besu sends its batch
// limit as -32005).
bool IsRateLimited(int http_status, const RpcError* error);

}  // namespace coffer::fetcher::evm

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_JSON_RPC_H_
