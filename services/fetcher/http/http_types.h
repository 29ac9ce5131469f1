// What the HTTP engine sends and receives: one request, one response, and
// the Status codes a transport failure is reported with.
//
//   HttpRequest request;
//   request.method = "POST";
//   request.url = "https://node.example/rpc";
//   request.headers = {{"Content-Type", "application/json"}};
//   request.body = R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"})";
//   request.timeout = absl::Seconds(5);
//   ...
//   absl::StatusOr<HttpResponse> outcome = ...;
//   if (outcome.ok() && outcome->status == 429) {
//     const std::string* retry_after = outcome->FindHeader("retry-after");
//   }
//
// A response with any HTTP status (404, 429, 500) is a response, not an
// error. Transport failures are an absl::Status:
//   DEADLINE_EXCEEDED   the connect or total timeout passed;
//   UNAVAILABLE         no connection (refused, reset, DNS, TLS), or the
//                       peer closed it before a whole response arrived;
//   RESOURCE_EXHAUSTED  the body grew past the configured maximum (reading
//                       stops there, so a huge body never fills memory);
//   INVALID_ARGUMENT    a URL or method that cannot be sent;
//   CANCELLED           the request was cancelled or the loop shut down.
// Messages name the host only: paths and queries may carry API keys.
#ifndef COFFER_SERVICES_FETCHER_HTTP_HTTP_TYPES_H_
#define COFFER_SERVICES_FETCHER_HTTP_HTTP_TYPES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace coffer::fetcher {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  // "GET", "POST", or any other method name ("HEAD" reads no body).
  std::string method = "GET";
  // http:// or https:// only.
  std::string url;
  // Sent as given. The engine adds "Expect:" (no 100-continue round trip)
  // and Accept-Encoding for the encodings libcurl decodes.
  HttpHeaders headers;
  std::string body;
  // Time allowed to establish the connection (DNS, TCP, TLS).
  absl::Duration connect_timeout = absl::Seconds(10);
  // Time allowed for the whole exchange, connection included.
  absl::Duration timeout = absl::Seconds(30);
};

struct HttpResponse {
  int status = 0;
  // Names lowercased, values trimmed, in arrival order; only the final
  // response's headers (not those of a 100 Continue).
  HttpHeaders headers;
  // Decoded (gzip, brotli, zstd are undone by libcurl).
  std::string body;
  // From the start of the transfer (queueing in libcurl included) to the
  // last byte.
  absl::Duration total_time;

  // The first header called `lowercase_name`, or nullptr.
  const std::string* FindHeader(std::string_view lowercase_name) const;
};

// The host of `url` (with its port when one is given), for messages and
// logs: never the path or query, which may carry API keys. "<bad url>" when
// `url` has no recognisable host.
std::string HostForLog(std::string_view url);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_HTTP_HTTP_TYPES_H_
