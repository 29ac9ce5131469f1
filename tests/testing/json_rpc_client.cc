#include "tests/testing/json_rpc_client.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include <curl/curl.h>

namespace coffer::testing {
namespace {

constexpr size_t kMaxResponseBytes = 256 << 20;

// curl_global_init is not thread-safe: run it once, before any handle.
void InitCurlOnce() {
  static const bool initialized = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)initialized;
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxResponseBytes) return 0;  // aborts the transfer
  body->append(data, size * count);
  return size * count;
}

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeadersDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

JsonRpcClient::JsonRpcClient(std::string url, absl::Duration timeout)
    : url_(std::move(url)), timeout_(timeout) {
  InitCurlOnce();
}

absl::StatusOr<std::string> JsonRpcClient::Call(std::string_view method,
                                                std::string_view params_json) const {
  const int id = next_id_.fetch_add(1);
  // Debian's Abseil has its own string_view, which StrCat wants.
  const absl::string_view name(method.data(), method.size());
  std::string request =
      absl::StrCat(R"({"jsonrpc":"2.0","id":)", id, R"(,"method":")", name, R"(","params":)",
                   absl::string_view(params_json.data(), params_json.size()), "}");
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::unique_ptr<curl_slist, HeadersDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  std::string body;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, request.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(request.size()));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");

  CURLcode code = curl_easy_perform(curl.get());
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(absl::StrCat(name, ": timed out: ", error));
  }
  if (code != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(name, ": ", error[0] != 0 ? error : curl_easy_strerror(code)));
  }
  long http_status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &http_status);
  if (http_status < 200 || http_status >= 300) {
    return absl::UnavailableError(
        absl::StrCat(name, ": HTTP ", http_status, ": ", body.substr(0, 500)));
  }

  rapidjson::Document response;
  response.Parse<rapidjson::kParseNumbersAsStringsFlag>(body.data(), body.size());
  if (response.HasParseError() || !response.IsObject()) {
    return absl::DataLossError(
        absl::StrCat(name, ": not a JSON-RPC response: ", body.substr(0, 500)));
  }
  if (auto error_member = response.FindMember("error"); error_member != response.MemberEnd()) {
    return absl::UnknownError(absl::StrCat(name, ": JSON-RPC error ", ToJson(error_member->value)));
  }
  auto result = response.FindMember("result");
  if (result == response.MemberEnd()) {
    return absl::DataLossError(
        absl::StrCat(name, ": response has no result: ", body.substr(0, 500)));
  }
  return ToJson(result->value);
}

absl::StatusOr<std::string> JsonRpcClient::CallForString(std::string_view method,
                                                         std::string_view params_json) const {
  const absl::string_view name(method.data(), method.size());
  absl::StatusOr<std::string> json = Call(method, params_json);
  if (!json.ok()) return json.status();
  rapidjson::Document result;
  result.Parse(json->data(), json->size());
  if (result.HasParseError() || !result.IsString()) {
    return absl::DataLossError(absl::StrCat(name, ": result is not a string: ", *json));
  }
  return std::string(result.GetString(), result.GetStringLength());
}

}  // namespace coffer::testing
