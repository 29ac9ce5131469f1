// Upstream URLs as the fetcher configuration gives them, checked once at
// startup, and the only part of one that may be shown: its host.
//
// A URL of a hosted node often carries the API key in its path or query
// ("https://eth-mainnet.example/v2/<key>"), so nothing here ever puts the
// URL, its path or its query into an error message, and ListUpstreams,
// logs and metrics name an endpoint by its configured name and DisplayHost.
//
//   absl::StatusOr<EndpointUrl> url = ParseEndpointUrl(endpoint.url());
//   if (!url.ok()) ...             // INVALID_ARGUMENT "must be http or https"
//   status.set_host(url->display_host);   // "eth.example:8545"
//
// Parsing is libcurl's (curl_url), the same parser that will send the
// requests, so a URL accepted here is one libcurl understands the same way.
#ifndef COFFER_SERVICES_FETCHER_CONFIG_ENDPOINT_URL_H_
#define COFFER_SERVICES_FETCHER_CONFIG_ENDPOINT_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::fetcher {

struct EndpointUrl {
  // "http" or "https".
  std::string scheme;
  // Lowercase host name, IPv4 address, or bracketed IPv6 address ("[::1]").
  std::string host;
  // Explicit port, or the scheme's (80, 443).
  int port = 0;
  // host, plus ":port" when the URL names one: "127.0.0.1:8545",
  // "blockstream.info". Safe to show.
  std::string display_host;
};

// Accepts "http://" or "https://" (any case) URLs with a host, an optional
// port, path and query. INVALID_ARGUMENT, never repeating the URL, for
// anything else: another scheme, no host, a user name or password (secrets
// belong in headers read from files), a fragment, whitespace or control
// characters, or what libcurl cannot parse.
[[nodiscard]] absl::StatusOr<EndpointUrl> ParseEndpointUrl(absl::string_view url);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CONFIG_ENDPOINT_URL_H_
