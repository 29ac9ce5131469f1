// Sends JSON-RPC calls to a chain's endpoints the way nodes like to get
// them: as batch arrays no larger than each endpoint accepts, to the first
// endpoint that is not cooling down, with every call's outcome matched by
// id.
//
// What an endpoint does wrong costs only a retry elsewhere: a transport
// failure, a 429 or 5xx, or a body that is not a JSON-RPC answer benches
// the endpoint (EndpointSet) and sends the same calls to the next one; a
// batch refused as too large (HTTP 413/414 or a "batch too large" error)
// is split in halves, and the smaller size remembered for that endpoint. A
// call the node answers with a JSON-RPC error is that call's outcome, not
// the endpoint's failure (a reverted eth_call is an answer). When no
// endpoint is left, every unanswered call fails UNAVAILABLE with the last
// error.
//
//   JsonRpcBatcher batcher(&endpoints, &transport);
//   batcher.Send(std::move(calls), deadline, [](std::vector<RpcOutcome> chunk) {
//     ... some of the calls, each once, as their batch completes ...
//   });
#ifndef COFFER_SERVICES_FETCHER_CHAINS_JSON_RPC_BATCHER_H_
#define COFFER_SERVICES_FETCHER_CHAINS_JSON_RPC_BATCHER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/upstream_transport.h"

namespace coffer::fetcher {

// One JSON-RPC call: `params` is the JSON text of the params array.
struct RpcCall {
  std::string method;
  std::string params;
};

// The outcome of calls[index] of a Send.
struct RpcOutcome {
  size_t index = 0;
  // The JSON text of the result, or why there is none: the node's JSON-RPC
  // error (INVALID_ARGUMENT, FAILED_PRECONDITION for reverts, ...), or the
  // last transport or upstream error.
  absl::StatusOr<std::string> result;
  // The result's value when it is a JSON string (most EVM results, "0x..."),
  // so callers need not parse `result` again.
  std::optional<std::string> string_result = std::nullopt;
  // The endpoint that answered or failed last (its configured name).
  std::string upstream = {};
};

class JsonRpcBatcher {
 public:
  using ChunkDone = absl::AnyInvocable<void(std::vector<RpcOutcome>)>;

  // Both outlive the batcher and every Send in flight.
  JsonRpcBatcher(EndpointSet* endpoints, UpstreamTransport* transport)
      : endpoints_(endpoints), transport_(transport) {}

  // Sends every call; `on_chunk` runs once per completed batch (on the
  // transport's thread), together covering every index exactly once.
  // `on_chunk` is shared by the batches: it must be safe to call from the
  // transport's thread one batch at a time.
  // `cancelled`, when set, is asked before each HTTP request: once it is
  // true the calls not yet sent fail CANCELLED instead (the client is gone).
  void Send(std::vector<RpcCall> calls, absl::Time deadline, ChunkDone on_chunk,
            std::function<bool()> cancelled = nullptr);

 private:
  struct Job;
  struct Chunk {
    std::vector<size_t> indices;  // into the job's calls
    std::vector<size_t> tried;    // endpoints that failed it
  };

  void SendChunk(std::shared_ptr<Job> job, Chunk chunk);
  void OnReply(std::shared_ptr<Job> job, Chunk chunk, size_t endpoint,
               absl::StatusOr<UpstreamReply> reply);
  // Gives up on `chunk`: every call fails with `error`.
  void FailChunk(const std::shared_ptr<Job>& job, const Chunk& chunk, const absl::Status& error,
                 const std::string& upstream);
  // Tries the chunk's calls at the next endpoint after `endpoint` failed.
  void Retry(std::shared_ptr<Job> job, Chunk chunk, size_t endpoint, const absl::Status& error,
             std::optional<absl::Duration> retry_after);

  EndpointSet* const endpoints_;
  UpstreamTransport* const transport_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_JSON_RPC_BATCHER_H_
