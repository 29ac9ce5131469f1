// The request headers an endpoint's configuration asks for, with their
// secret values read from files or environment variables at startup.
//
// Values are secrets (API keys): no error here holds one, only the header
// name and where the value should have come from, and callers keep the
// resolved values away from logs and metrics.
//
//   ASSIGN_OR_RETURN(std::vector<HttpHeader> headers, ResolveHeaders(endpoint.headers()));
//   // {{"x-api-key", "<key>"}}
#ifndef COFFER_SERVICES_FETCHER_CONFIG_HEADER_VALUES_H_
#define COFFER_SERVICES_FETCHER_CONFIG_HEADER_VALUES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"

#include "coffer/config/fetcher_config.pb.h"

namespace coffer::fetcher {

struct HttpHeader {
  std::string name;
  std::string value;
  friend bool operator==(const HttpHeader&, const HttpHeader&) = default;
};

// Values longer than this are refused: a key is far shorter, and a file of
// megabytes named by mistake should not become a header.
inline constexpr size_t kMaxHeaderValueBytes = 8192;

// Reads each header's value: a file's contents without one trailing "\n" or
// "\r\n", or an environment variable's value. Errors name the header and the
// file or variable: NOT_FOUND when the variable is unset or the file does
// not exist, the errno-mapped code when the file cannot be read,
// INVALID_ARGUMENT when the value is empty, too long, or holds a line break
// or another control character (which would let it inject headers).
[[nodiscard]] absl::StatusOr<std::vector<HttpHeader>> ResolveHeaders(
    const google::protobuf::RepeatedPtrField<config::HeaderConfig>& headers);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CONFIG_HEADER_VALUES_H_
