#include "services/fetcher/chains/evm/json_rpc.h"

#include <algorithm>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace coffer::fetcher::evm {
namespace {

// RapidJSON's parser recurses per nesting level: deeper bodies are refused
// before it runs. Real answers nest a few levels.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxMessageBytes = 300;
// JSON-RPC's "internal error", for an error object without a usable code.
constexpr int64_t kNoCode = -32603;

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string JsonString(absl::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The id of a response: an unsigned integer, null/absent (nullopt), or
// anything else (`usable` false).
struct Id {
  std::optional<uint64_t> value;
  bool usable = true;
};

Id IdOf(const rapidjson::Value& response) {
  auto id = response.FindMember("id");
  if (id == response.MemberEnd() || id->value.IsNull()) return {};
  if (id->value.IsUint64()) return {.value = id->value.GetUint64()};
  Id unusable;
  unusable.usable = false;
  return unusable;
}

std::optional<RpcError> ErrorOf(const rapidjson::Value& response) {
  auto error = response.FindMember("error");
  if (error == response.MemberEnd() || error->value.IsNull()) return std::nullopt;
  RpcError parsed;
  parsed.code = kNoCode;
  if (error->value.IsObject()) {
    auto code = error->value.FindMember("code");
    if (code != error->value.MemberEnd() && code->value.IsInt64()) {
      parsed.code = code->value.GetInt64();
    }
    auto message = error->value.FindMember("message");
    if (message != error->value.MemberEnd() && message->value.IsString()) {
      parsed.message.assign(message->value.GetString(),
                            std::min<size_t>(message->value.GetStringLength(), kMaxMessageBytes));
    }
  } else if (error->value.IsString()) {
    parsed.message.assign(error->value.GetString(),
                          std::min<size_t>(error->value.GetStringLength(), kMaxMessageBytes));
  }
  return parsed;
}

// The rough nesting depth of a body, counted without parsing it.
bool TooDeep(absl::string_view body, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// A response object's outcome, or nullopt when it has neither a result nor
// an error.
std::optional<RpcResult> OutcomeOf(const rapidjson::Value& response) {
  RpcResult result;
  result.error = ErrorOf(response);
  if (result.error.has_value()) return result;
  auto value = response.FindMember("result");
  if (value == response.MemberEnd()) return std::nullopt;
  result.result = ToJson(value->value);
  if (value->value.IsString()) {
    result.string_result.emplace(value->value.GetString(), value->value.GetStringLength());
  }
  return result;
}

bool ContainsAny(absl::string_view text, std::initializer_list<absl::string_view> phrases) {
  return std::any_of(phrases.begin(), phrases.end(),
                     [text](absl::string_view phrase) { return absl::StrContains(text, phrase); });
}

}  // namespace

std::string BuildRequest(const JsonRpcCall& call) {
  return absl::StrCat("{\"jsonrpc\":\"2.0\",\"id\":", call.id,
                      ",\"method\":", JsonString(call.method),
                      ",\"params\":", call.params.empty() ? "[]" : call.params, "}");
}

std::string BuildBatchRequest(const std::vector<JsonRpcCall>& calls) {
  std::string body = "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i != 0) body += ",";
    body += BuildRequest(calls[i]);
  }
  body += "]";
  return body;
}

absl::StatusOr<BatchResponse> ParseBatchResponse(absl::string_view body) {
  if (TooDeep(body, kMaxDepth)) {
    return absl::DataLossError(
        absl::StrCat("JSON-RPC answer: nested deeper than ", kMaxDepth, " levels"));
  }
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError()) {
    if (body.empty()) return absl::DataLossError("JSON-RPC answer: empty body");
    return absl::DataLossError(absl::StrCat("JSON-RPC answer: not JSON (parse error at byte ",
                                            document.GetErrorOffset(), ")"));
  }
  BatchResponse response;
  std::vector<const rapidjson::Value*> elements;
  if (document.IsObject()) {
    elements.push_back(&document);
  } else if (document.IsArray()) {
    elements.reserve(document.Size());
    for (const rapidjson::Value& element : document.GetArray()) elements.push_back(&element);
  } else {
    return absl::DataLossError("JSON-RPC answer: neither an array nor an object");
  }
  // One error without an id, alone: the node refused the batch as a whole
  // (Erigon answers a bare object; newer versions and the spec an array).
  if (elements.size() == 1 && elements.front()->IsObject()) {
    const Id id = IdOf(*elements.front());
    std::optional<RpcError> error = ErrorOf(*elements.front());
    if (error.has_value() && !id.value.has_value()) {
      response.whole_error = std::move(error);
      return response;
    }
  }
  absl::flat_hash_set<uint64_t> duplicated;
  for (const rapidjson::Value* element : elements) {
    if (!element->IsObject()) {
      ++response.unusable_elements;
      continue;
    }
    const Id id = IdOf(*element);
    std::optional<RpcResult> outcome = OutcomeOf(*element);
    if (!id.value.has_value() || !outcome.has_value()) {
      ++response.unusable_elements;
      continue;
    }
    if (duplicated.contains(*id.value)) continue;
    if (!response.results.emplace(*id.value, *std::move(outcome)).second) {
      response.results.erase(*id.value);
      duplicated.insert(*id.value);
      response.duplicate_ids.push_back(*id.value);
    }
  }
  return response;
}

absl::StatusOr<RpcResult> ParseResponse(absl::string_view body, uint64_t id) {
  absl::StatusOr<BatchResponse> parsed = ParseBatchResponse(body);
  if (!parsed.ok()) return parsed.status();
  if (parsed->whole_error.has_value()) {
    RpcResult refused;
    refused.error = std::move(parsed->whole_error);
    return refused;
  }
  auto answer = parsed->results.find(id);
  if (answer == parsed->results.end()) {
    return absl::DataLossError(
        absl::StrCat("JSON-RPC answer: no usable response with id ", id,
                     absl::c_linear_search(parsed->duplicate_ids, id) ? " (answered twice)" : ""));
  }
  return std::move(answer->second);
}

bool IsBatchTooLarge(int http_status, const RpcError* error) {
  if (http_status == 413 || http_status == 414) return true;
  if (error == nullptr) return false;
  const std::string message = absl::AsciiStrToLower(error->message);
  return ContainsAny(
      message,
      {
          // geth: "batch too large"; its response cap: "response too large".
          "batch too large",
          "response too large",
          // Erigon: "batch limit 100 exceeded (can increase by --rpc.batch.limit)".
          "batch limit",
          // Nethermind: "Batch size limit exceeded"; hosted nodes: "batch size too large",
          // "maximum batch size", "max batch size".
          "batch size",
          "max batch",
          "maximum batch",
          // Besu: "Number of requests in batch exceeds --rpc-max-batch-size".
          "max-batch-size",
          "requests in batch",
          // reth and other jsonrpsee servers: "The batch request was too large",
          // "The batch response was too large", "Request is too big", "Response is too big".
          "batch request was too large",
          "batch response was too large",
          "request is too big",
          "response is too big",
          // Other wordings seen behind proxies and hosted APIs.
          "batch is too large",
          "too many requests in batch",
          "exceeds the batch",
          "batch request limit",
          "request entity too large",
          "response size exceeded",
          "response size limit",
      });
}

bool IsRateLimited(int http_status, const RpcError* error) {
  if (http_status == 429) return true;
  if (error == nullptr || IsBatchTooLarge(http_status, error)) return false;
  if (error->code == -32005 || error->code == 429) return true;
  const std::string message = absl::AsciiStrToLower(error->message);
  // An eth_call that ran out of gas says "limit" too; it is the call's fault.
  if (absl::StrContains(message, "gas")) return false;
  return ContainsAny(message, {
                                  "rate limit",
                                  "ratelimit",
                                  "too many requests",
                                  "limit exceeded",
                                  "request limit reached",
                                  "daily request count exceeded",
                                  "exceeded its compute units",
                                  "compute units per second",
                                  "throughput",
                                  "quota exceeded",
                                  "exceeded the quota",
                              });
}

}  // namespace coffer::fetcher::evm
