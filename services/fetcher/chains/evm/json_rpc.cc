#include "services/fetcher/chains/evm/json_rpc.h"

#include <vector>

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

// Answers nest shallowly; a deeper body is hostile (RapidJSON's parser
// recurses).
constexpr unsigned kParseFlags = rapidjson::kParseStopWhenDoneFlag;

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<uint64_t> IdOf(const rapidjson::Value& response) {
  auto id = response.FindMember("id");
  if (id == response.MemberEnd()) return std::nullopt;
  if (id->value.IsUint64()) return id->value.GetUint64();
  return std::nullopt;
}

std::optional<RpcError> ErrorOf(const rapidjson::Value& response) {
  auto error = response.FindMember("error");
  if (error == response.MemberEnd() || error->value.IsNull()) return std::nullopt;
  RpcError parsed;
  parsed.code = -32603;  // internal error, when the node gives no code
  if (error->value.IsObject()) {
    auto code = error->value.FindMember("code");
    if (code != error->value.MemberEnd() && code->value.IsInt64())
      parsed.code = code->value.GetInt64();
    auto message = error->value.FindMember("message");
    if (message != error->value.MemberEnd() && message->value.IsString()) {
      parsed.message.assign(message->value.GetString(), message->value.GetStringLength());
    }
  } else if (error->value.IsString()) {
    parsed.message.assign(error->value.GetString(), error->value.GetStringLength());
  }
  // Messages end up in item errors people read: keep them one short line.
  if (parsed.message.size() > 300) parsed.message.resize(300);
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

}  // namespace

std::string BuildBatchRequest(const std::vector<JsonRpcCall>& calls) {
  std::string body = "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    const JsonRpcCall& call = calls[i];
    absl::StrAppend(&body, i == 0 ? "" : ",", "{\"jsonrpc\":\"2.0\",\"id\":", call.id,
                    ",\"method\":\"", call.method,
                    "\",\"params\":", call.params.empty() ? "[]" : call.params, "}");
  }
  body += "]";
  return body;
}

absl::StatusOr<BatchResponse> ParseBatchResponse(absl::string_view body) {
  if (TooDeep(body, 64)) return absl::DataLossError("JSON-RPC answer: nested too deeply");
  rapidjson::Document document;
  document.Parse<kParseFlags>(body.data(), body.size());
  if (document.HasParseError()) return absl::DataLossError("JSON-RPC answer: not JSON");
  BatchResponse response;
  std::vector<const rapidjson::Value*> elements;
  if (document.IsObject()) {
    // One object for a batch: an error for all of it, or (from a node that
    // does not do batches) a lone answer.
    std::optional<RpcError> error = ErrorOf(document);
    if (error.has_value() && !IdOf(document).has_value()) {
      response.whole_error = std::move(error);
      return response;
    }
    elements.push_back(&document);
  } else if (document.IsArray()) {
    elements.reserve(document.Size());
    for (const rapidjson::Value& element : document.GetArray()) elements.push_back(&element);
  } else {
    return absl::DataLossError("JSON-RPC answer: not an array");
  }
  absl::flat_hash_set<uint64_t> duplicated;
  for (const rapidjson::Value* pointer : elements) {
    const rapidjson::Value& element = *pointer;
    if (!element.IsObject()) continue;
    std::optional<uint64_t> id = IdOf(element);
    if (!id.has_value()) continue;
    RpcResult result;
    result.error = ErrorOf(element);
    if (!result.error.has_value()) {
      auto value = element.FindMember("result");
      if (value == element.MemberEnd()) continue;
      result.result = ToJson(value->value);
    }
    if (duplicated.contains(*id)) continue;
    if (!response.results.emplace(*id, std::move(result)).second) {
      response.results.erase(*id);
      duplicated.insert(*id);
    }
  }
  return response;
}

bool IsBatchTooLarge(int http_status, const RpcError* error) {
  if (http_status == 413 || http_status == 414) return true;
  if (error == nullptr) return false;
  const std::string message = absl::AsciiStrToLower(error->message);
  for (absl::string_view phrase :
       {"batch too large", "batch limit", "batch size", "batch is too large",
        "too many requests in batch", "exceeds the batch", "maximum batch", "batch request limit",
        "request entity too large", "response size exceeded", "response is too big"}) {
    if (absl::StrContains(message, phrase)) return true;
  }
  return false;
}

bool IsRateLimited(int http_status, const RpcError* error) {
  if (http_status == 429) return true;
  if (error == nullptr || IsBatchTooLarge(http_status, error)) return false;
  if (error->code == -32005 || error->code == 429) return true;
  const std::string message = absl::AsciiStrToLower(error->message);
  for (absl::string_view phrase : {"rate limit", "too many requests", "limit exceeded",
                                   "exceeded its compute units", "throughput"}) {
    if (absl::StrContains(message, phrase)) return true;
  }
  return false;
}

}  // namespace coffer::fetcher::evm
