#include "services/fetcher/chains/evm/json_rpc.h"

#include <algorithm>
#include <memory>
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

// Whether `text` needs no escaping inside a JSON string (RapidJSON's
// writer escapes only control characters, '"' and '\\').
bool IsPlainJsonText(absl::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') return false;
  }
  return true;
}

// Appends `text` as a JSON string.
void AppendJsonString(absl::string_view text, std::string* out) {
  if (IsPlainJsonText(text)) {
    out->push_back('"');
    out->append(text.data(), text.size());
    out->push_back('"');
    return;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  out->append(buffer.GetString(), buffer.GetSize());
}

// Appends one request object.
void AppendRequest(const JsonRpcCallView& call, std::string* body) {
  absl::StrAppend(body, "{\"jsonrpc\":\"2.0\",\"id\":", call.id, ",\"method\":");
  AppendJsonString(call.method, body);
  absl::StrAppend(body, ",\"params\":", call.params.empty() ? "[]" : call.params, "}");
}

// Fixed buffers for the documents of one thread's parses: a batch answer
// of a few hundred results parses without a heap allocation for its values
// (larger ones spill into the heap as usual).
struct ParseBuffers {
  static constexpr size_t kValueBytes = size_t{256} << 10;
  static constexpr size_t kStackBytes = size_t{16} << 10;
  std::unique_ptr<char[]> values = std::make_unique<char[]>(kValueBytes);
  std::unique_ptr<char[]> stack = std::make_unique<char[]>(kStackBytes);
};

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
  if (value->value.IsString()) {
    // Most results: written back as a string without the writer's buffers.
    const absl::string_view text(value->value.GetString(), value->value.GetStringLength());
    result.result.reserve(text.size() + 2);
    AppendJsonString(text, &result.result);
    result.string_result.emplace(text.data(), text.size());
  } else {
    result.result = ToJson(value->value);
  }
  return result;
}

bool ContainsAny(absl::string_view text, std::initializer_list<absl::string_view> phrases) {
  return std::any_of(phrases.begin(), phrases.end(),
                     [text](absl::string_view phrase) { return absl::StrContains(text, phrase); });
}

}  // namespace

std::string BuildRequest(const JsonRpcCall& call) {
  std::string request;
  AppendRequest({.id = call.id, .method = call.method, .params = call.params}, &request);
  return request;
}

std::string BuildBatchRequest(const std::vector<JsonRpcCall>& calls) {
  std::vector<JsonRpcCallView> views;
  views.reserve(calls.size());
  for (const JsonRpcCall& call : calls) {
    views.push_back({.id = call.id, .method = call.method, .params = call.params});
  }
  return BuildBatchRequestFromViews(views);
}

std::string BuildBatchRequestFromViews(const std::vector<JsonRpcCallView>& calls) {
  // One buffer for the whole body: the envelope is ~50 bytes per call.
  size_t size = 2;
  for (const JsonRpcCallView& call : calls) size += 64 + call.method.size() + call.params.size();
  std::string body;
  body.reserve(size);
  body += "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i != 0) body += ",";
    AppendRequest(calls[i], &body);
  }
  body += "]";
  return body;
}

absl::StatusOr<BatchResponse> ParseBatchResponse(absl::string_view body) {
  if (TooDeep(body, kMaxDepth)) {
    return absl::DataLossError(
        absl::StrCat("JSON-RPC answer: nested deeper than ", kMaxDepth, " levels"));
  }
  thread_local ParseBuffers buffers;
  rapidjson::MemoryPoolAllocator<> values(buffers.values.get(), ParseBuffers::kValueBytes);
  rapidjson::MemoryPoolAllocator<> stack(buffers.stack.get(), ParseBuffers::kStackBytes);
  rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                             rapidjson::MemoryPoolAllocator<>>
      document(&values, ParseBuffers::kStackBytes / 2, &stack);
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
  response.results.reserve(elements.size());
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
