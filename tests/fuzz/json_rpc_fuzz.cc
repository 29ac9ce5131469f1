// Fuzz target for the JSON-RPC batch answer parser (what every EVM node's
// body goes through): never a crash; every answer it keeps is valid JSON
// and every error message bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

#include "services/fetcher/chains/evm/json_rpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<coffer::fetcher::evm::BatchResponse> response =
      coffer::fetcher::evm::ParseBatchResponse(body);
  if (!response.ok()) return 0;
  for (const auto& [id, result] : response->results) {
    if (result.error.has_value()) {
      if (result.error->message.size() > 300) std::abort();
      continue;
    }
    rapidjson::Document document;
    document.Parse(result.result.data(), result.result.size());
    if (document.HasParseError()) std::abort();
  }
  if (response->whole_error.has_value() && !response->results.empty()) std::abort();
  (void)coffer::fetcher::evm::IsBatchTooLarge(
      200, response->whole_error ? &*response->whole_error : nullptr);
  return 0;
}
