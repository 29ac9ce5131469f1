#include "services/fetcher/config/endpoint_url.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <curl/curl.h>

namespace coffer::fetcher {
namespace {

// Longer URLs are surely not endpoint roots; libcurl's own limit is 8 MB.
constexpr size_t kMaxUrlLength = 2048;

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

// A part of `url`, or nullopt when the URL has none.
std::optional<std::string> GetPart(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) {
    return std::nullopt;
  }
  std::string copy(value);
  curl_free(value);
  return copy;
}

}  // namespace

absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError("must not be empty");
  if (url.size() > kMaxUrlLength) {
    return absl::InvalidArgumentError(absl::StrCat("longer than ", kMaxUrlLength, " bytes"));
  }
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return absl::InvalidArgumentError("must not hold spaces or control characters");
    }
  }
  // Checked before libcurl, which would also accept "ftp://" and guess
  // schemes for some inputs.
  if (!absl::StartsWithIgnoreCase(url, "http://") && !absl::StartsWithIgnoreCase(url, "https://")) {
    return absl::InvalidArgumentError("must be http or https");
  }
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (handle == nullptr) return absl::ResourceExhaustedError("out of memory parsing a URL");
  const std::string text(url);
  if (curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError("is not a valid URL");
  }
  if (GetPart(handle.get(), CURLUPART_USER) || GetPart(handle.get(), CURLUPART_PASSWORD)) {
    return absl::InvalidArgumentError(
        "must not hold a user name or password: read keys from a file or the environment "
        "through headers");
  }
  if (GetPart(handle.get(), CURLUPART_FRAGMENT)) {
    return absl::InvalidArgumentError("must not have a fragment");
  }
  EndpointUrl parsed;
  parsed.scheme = absl::AsciiStrToLower(GetPart(handle.get(), CURLUPART_SCHEME).value_or(""));
  if (parsed.scheme != "http" && parsed.scheme != "https") {
    return absl::InvalidArgumentError("must be http or https");
  }
  parsed.host = absl::AsciiStrToLower(GetPart(handle.get(), CURLUPART_HOST).value_or(""));
  if (parsed.host.empty()) return absl::InvalidArgumentError("has no host");
  const std::optional<std::string> explicit_port = GetPart(handle.get(), CURLUPART_PORT);
  const std::optional<std::string> port =
      explicit_port ? explicit_port : GetPart(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!port || !absl::SimpleAtoi(*port, &parsed.port) || parsed.port <= 0 || parsed.port > 65535) {
    return absl::InvalidArgumentError("has an invalid port");
  }
  parsed.display_host =
      explicit_port ? absl::StrCat(parsed.host, ":", *explicit_port) : parsed.host;
  return parsed;
}

}  // namespace coffer::fetcher
