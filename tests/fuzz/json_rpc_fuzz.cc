// Fuzz target for the JSON-RPC answer parsers (what every EVM node's body
// goes through): never a crash; the three levels of failure stay apart
// (whole body, whole batch, per id); every answer kept is valid JSON whose
// string value is the one reported; and writing what was parsed back out
// as a canonical batch answer parses to the same answers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

#include "services/fetcher/chains/evm/json_rpc.h"

namespace {

namespace evm = coffer::fetcher::evm;

void Check(bool condition) {
  if (!condition) std::abort();
}

std::string JsonString(const std::string& text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string Rebuild(const evm::BatchResponse& response) {
  std::string body = "[";
  for (const auto& [id, result] : response.results) {
    if (body.size() > 1) body += ",";
    if (result.error.has_value()) {
      absl::StrAppend(&body, "{\"jsonrpc\":\"2.0\",\"id\":", id,
                      ",\"error\":{\"code\":", result.error->code,
                      ",\"message\":", JsonString(result.error->message), "}}");
    } else {
      absl::StrAppend(&body, "{\"jsonrpc\":\"2.0\",\"id\":", id, ",\"result\":", result.result,
                      "}");
    }
  }
  return body + "]";
}

bool SameResult(const evm::RpcResult& a, const evm::RpcResult& b) {
  if (a.error.has_value() != b.error.has_value()) return false;
  if (a.error.has_value()) {
    return a.error->code == b.error->code && a.error->message == b.error->message;
  }
  return a.result == b.result && a.string_result == b.string_result;
}

}  // namespace

extern "C" const char* const* CofferFuzzSeeds(size_t* count) {
  static const char* const kSeeds[] = {
      R"([{"jsonrpc":"2.0","id":2,"result":"0x2"},{"jsonrpc":"2.0","id":1,"error":)"
      R"({"code":3,"message":"execution reverted"}},{"jsonrpc":"2.0","id":0,"result":)"
      R"({"number":"0x1","hash":"0xab"}}])",
      R"([{"id":1,"result":"0x1"},{"id":1,"result":"0x2"},{"id":"x","result":"0x3"},7,{"id":5}])",
      R"([{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"batch limit 100 exceeded"}}])",
      R"({"jsonrpc":"2.0","id":0,"result":"0x1bc16d674ec80000"})",
      R"([{"id":3,"result":18446744073709551615},{"id":4,"result":-1.5e300},{"id":5,"result":"\u00e9\n"}])",
  };
  *count = std::size(kSeeds);
  return kSeeds;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<evm::BatchResponse> response = evm::ParseBatchResponse(body);
  absl::StatusOr<evm::RpcResult> single = evm::ParseResponse(body, 0);
  if (!response.ok()) {
    Check(response.status().code() == absl::StatusCode::kDataLoss);
    Check(!single.ok() && single.status().code() == absl::StatusCode::kDataLoss);
    return 0;
  }
  if (response->whole_error.has_value()) {
    Check(response->results.empty() && response->duplicate_ids.empty());
    Check(response->whole_error->message.size() <= 300);
    Check(single.ok() && single->error.has_value() &&
          single->error->message == response->whole_error->message);
    return 0;
  }
  // The single-response parser agrees with the batch one on id 0.
  auto zero = response->results.find(0);
  Check(single.ok() == (zero != response->results.end()));
  if (single.ok()) Check(SameResult(*single, zero->second));

  for (const auto& [id, result] : response->results) {
    Check(!absl::c_linear_search(response->duplicate_ids, id));
    if (result.error.has_value()) {
      Check(result.error->message.size() <= 300);
      Check(result.result.empty() && !result.string_result.has_value());
      continue;
    }
    rapidjson::Document document;
    document.Parse(result.result.data(), result.result.size());
    Check(!document.HasParseError());
    Check(document.IsString() == result.string_result.has_value());
    if (document.IsString()) {
      Check(*result.string_result == std::string(document.GetString(), document.GetStringLength()));
    }
    (void)evm::IsBatchTooLarge(200, result.error ? &*result.error : nullptr);
  }
  absl::StatusOr<evm::BatchResponse> again = evm::ParseBatchResponse(Rebuild(*response));
  Check(again.ok() && !again->whole_error.has_value());
  Check(again->results.size() == response->results.size());
  for (const auto& [id, result] : response->results) {
    auto other = again->results.find(id);
    Check(other != again->results.end() && SameResult(other->second, result));
  }
  return 0;
}
