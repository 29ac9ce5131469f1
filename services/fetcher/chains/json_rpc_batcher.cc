#include "services/fetcher/chains/json_rpc_batcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

#include "services/fetcher/chains/evm/json_rpc.h"

namespace coffer::fetcher {

struct JsonRpcBatcher::Job {
  std::vector<RpcCall> calls;
  absl::Time deadline;
  ChunkDone on_chunk;
  std::function<bool()> cancelled;
  // Batches complete on the transport's one thread, but a chunk that fails
  // at once (no endpoint) completes on the caller's: on_chunk is serialized.
  std::mutex mu;
};

namespace {

bool Contains(const std::vector<size_t>& values, size_t value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// JSON-RPC errors as statuses: what the node said, for the item.
absl::Status RpcErrorStatus(const evm::RpcError& error) {
  // -32000..-32099 are the nodes' own (execution reverted is 3 or -32000);
  // -32602 invalid params: the item's fault, not the endpoint's.
  const absl::StatusCode code = error.code == -32602 || error.code == -32600
                                    ? absl::StatusCode::kInvalidArgument
                                    : absl::StatusCode::kFailedPrecondition;
  return absl::Status(code, absl::StrCat("JSON-RPC error ", error.code, ": ", error.message));
}

}  // namespace

void JsonRpcBatcher::Send(std::vector<RpcCall> calls, absl::Time deadline, ChunkDone on_chunk,
                          std::function<bool()> cancelled) {
  auto job = std::make_shared<Job>();
  job->cancelled = std::move(cancelled);
  job->calls = std::move(calls);
  job->deadline = deadline;
  job->on_chunk = std::move(on_chunk);
  Chunk all;
  all.indices.resize(job->calls.size());
  for (size_t i = 0; i < all.indices.size(); ++i) all.indices[i] = i;
  if (all.indices.empty()) return;
  SendChunk(std::move(job), std::move(all));
}

void JsonRpcBatcher::SendChunk(std::shared_ptr<Job> job, Chunk chunk) {
  if (job->cancelled != nullptr && job->cancelled()) {
    FailChunk(job, chunk, absl::CancelledError("the call was cancelled"), "");
    return;
  }
  const absl::Time now = absl::Now();
  if (now >= job->deadline) {
    FailChunk(job, chunk, absl::DeadlineExceededError("deadline passed before an answer"), "");
    return;
  }
  std::optional<size_t> endpoint;
  for (size_t candidate : endpoints_->Candidates(now)) {
    if (!Contains(chunk.tried, candidate)) {
      endpoint = candidate;
      break;
    }
  }
  if (!endpoint.has_value()) {
    absl::Status last = endpoints_->LastError();
    const std::string upstream =
        chunk.tried.empty() ? "" : endpoints_->options(chunk.tried.back()).name;
    FailChunk(
        job, chunk,
        absl::UnavailableError(
            last.ok() ? std::string("every endpoint is cooling down")
                      : absl::StrCat("no endpoint left to try; last error: ", last.message())),
        upstream);
    return;
  }
  const size_t limit = endpoints_->BatchSize(*endpoint);
  if (chunk.indices.size() > limit) {
    // Pieces of the endpoint's size, each on its own from here.
    for (size_t begin = 0; begin < chunk.indices.size(); begin += limit) {
      Chunk piece;
      piece.tried = chunk.tried;
      const size_t end = std::min(chunk.indices.size(), begin + limit);
      piece.indices.assign(chunk.indices.begin() + static_cast<std::ptrdiff_t>(begin),
                           chunk.indices.begin() + static_cast<std::ptrdiff_t>(end));
      SendChunk(job, std::move(piece));
    }
    return;
  }
  std::vector<evm::JsonRpcCallView> batch;
  batch.reserve(chunk.indices.size());
  for (size_t index : chunk.indices) {
    // The id is the call's index in the job: answers are matched by it.
    batch.push_back(
        {.id = index, .method = job->calls[index].method, .params = job->calls[index].params});
  }
  UpstreamRequest request;
  request.body = evm::BuildBatchRequestFromViews(batch);
  request.deadline = job->deadline;
  const size_t target = *endpoint;
  transport_->Send(
      target, std::move(request),
      [this, job, chunk = std::move(chunk), target](absl::StatusOr<UpstreamReply> reply) mutable {
        OnReply(std::move(job), std::move(chunk), target, std::move(reply));
      });
}

void JsonRpcBatcher::OnReply(std::shared_ptr<Job> job, Chunk chunk, size_t endpoint,
                             absl::StatusOr<UpstreamReply> reply) {
  const std::string& name = endpoints_->options(endpoint).name;
  if (!reply.ok()) {
    if (reply.status().code() == absl::StatusCode::kCancelled) {
      FailChunk(job, chunk, reply.status(), name);
      return;
    }
    Retry(std::move(job), std::move(chunk), endpoint, reply.status(), std::nullopt);
    return;
  }
  absl::StatusOr<evm::BatchResponse> parsed = evm::ParseBatchResponse(reply->body);
  const evm::RpcError* whole_error =
      parsed.ok() && parsed->whole_error.has_value() ? &*parsed->whole_error : nullptr;
  if (evm::IsBatchTooLarge(reply->http_status, whole_error)) {
    if (chunk.indices.size() > 1) {
      endpoints_->ReportBatchTooLarge(endpoint, chunk.indices.size());
      const size_t half = chunk.indices.size() / 2;
      Chunk first;
      Chunk second;
      first.tried = second.tried = chunk.tried;
      first.indices.assign(chunk.indices.begin(),
                           chunk.indices.begin() + static_cast<std::ptrdiff_t>(half));
      second.indices.assign(chunk.indices.begin() + static_cast<std::ptrdiff_t>(half),
                            chunk.indices.end());
      SendChunk(job, std::move(first));
      SendChunk(std::move(job), std::move(second));
      return;
    }
    Retry(std::move(job), std::move(chunk), endpoint,
          absl::ResourceExhaustedError("a single call is too large for the endpoint"),
          std::nullopt);
    return;
  }
  if (reply->http_status == 429 || evm::IsRateLimited(reply->http_status, whole_error)) {
    Retry(
        std::move(job), std::move(chunk), endpoint,
        absl::ResourceExhaustedError(absl::StrCat("rate limited (HTTP ", reply->http_status, ")")),
        reply->retry_after);
    return;
  }
  if (reply->http_status < 200 || reply->http_status > 299) {
    Retry(std::move(job), std::move(chunk), endpoint,
          absl::UnavailableError(absl::StrCat("HTTP ", reply->http_status)), reply->retry_after);
    return;
  }
  if (!parsed.ok()) {
    Retry(std::move(job), std::move(chunk), endpoint,
          absl::DataLossError(absl::StrCat("not a JSON-RPC answer: ", parsed.status().message())),
          std::nullopt);
    return;
  }
  if (whole_error != nullptr) {
    // One error object for the whole batch: the endpoint refused it.
    Retry(std::move(job), std::move(chunk), endpoint, RpcErrorStatus(*whole_error), std::nullopt);
    return;
  }

  endpoints_->ReportSuccess(endpoint, absl::Now());
  std::vector<RpcOutcome> outcomes;
  outcomes.reserve(chunk.indices.size());
  for (size_t index : chunk.indices) {
    RpcOutcome outcome;
    outcome.index = index;
    outcome.upstream = name;
    auto answer = parsed->results.find(index);
    if (answer == parsed->results.end()) {
      outcome.result = absl::DataLossError("the node's batch answer left this call out");
    } else if (answer->second.error.has_value()) {
      outcome.result = RpcErrorStatus(*answer->second.error);
    } else {
      outcome.result = std::move(answer->second.result);
      outcome.string_result = std::move(answer->second.string_result);
    }
    outcomes.push_back(std::move(outcome));
  }
  std::lock_guard<std::mutex> lock(job->mu);
  job->on_chunk(std::move(outcomes));
}

void JsonRpcBatcher::Retry(std::shared_ptr<Job> job, Chunk chunk, size_t endpoint,
                           const absl::Status& error, std::optional<absl::Duration> retry_after) {
  endpoints_->ReportFailure(endpoint, error, absl::Now(), retry_after);
  chunk.tried.push_back(endpoint);
  SendChunk(std::move(job), std::move(chunk));
}

void JsonRpcBatcher::FailChunk(const std::shared_ptr<Job>& job, const Chunk& chunk,
                               const absl::Status& error, const std::string& upstream) {
  std::vector<RpcOutcome> outcomes;
  outcomes.reserve(chunk.indices.size());
  for (size_t index : chunk.indices) {
    outcomes.push_back({.index = index, .result = error, .upstream = upstream});
  }
  std::lock_guard<std::mutex> lock(job->mu);
  job->on_chunk(std::move(outcomes));
}

}  // namespace coffer::fetcher
