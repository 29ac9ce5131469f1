// A tiny blocking JSON-RPC 2.0 client over HTTP for tests: one POST per call
// (libcurl easy interface), the result handed back as JSON text. Tests use it
// to drive a local Ethereum node (tests/testing/anvil.h); production code uses
// the fetcher's pooled, asynchronous engine instead.
//
//   JsonRpcClient client("http://127.0.0.1:8545");
//   absl::StatusOr<std::string> chain = client.Call("eth_chainId", "[]");
//   // *chain == "\"0x7a69\"" (JSON text: a string keeps its quotes)
//   absl::StatusOr<std::string> hex = client.CallForString("eth_chainId", "[]");
//   // *hex == "0x7a69"
#ifndef COFFER_TESTS_TESTING_JSON_RPC_CLIENT_H_
#define COFFER_TESTS_TESTING_JSON_RPC_CLIENT_H_

#include <atomic>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace coffer::testing {

class JsonRpcClient {
 public:
  explicit JsonRpcClient(std::string url, absl::Duration timeout = absl::Seconds(60));

  // Calls `method` with `params_json` (a JSON array or object, sent as is)
  // and answers the "result" member re-serialized as JSON text. Errors:
  // UNAVAILABLE when the HTTP exchange fails or answers non-2xx,
  // DEADLINE_EXCEEDED on timeout, DATA_LOSS for a body that is not a
  // JSON-RPC response, UNKNOWN for a JSON-RPC error object (its code,
  // message and data are in the status message). Safe from many threads.
  [[nodiscard]] absl::StatusOr<std::string> Call(std::string_view method,
                                                 std::string_view params_json) const;

  // Call() for methods whose result is a JSON string: answers it unquoted.
  // DATA_LOSS when the result is not a string.
  [[nodiscard]] absl::StatusOr<std::string> CallForString(std::string_view method,
                                                          std::string_view params_json) const;

  const std::string& url() const { return url_; }

 private:
  std::string url_;
  absl::Duration timeout_;
  mutable std::atomic<int> next_id_{1};
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_JSON_RPC_CLIENT_H_
