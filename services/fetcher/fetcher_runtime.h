// Everything the fetcher runs on, built from its configuration and owned in
// one place: the HTTP engine (one libcurl loop thread), and per chain its
// endpoint set, transport and reader. FetcherService borrows them through
// service_options(); the runtime outlives the gRPC server.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<FetcherRuntime> runtime, FetcherRuntime::Create(config));
//   FetcherService service(runtime->service_options());
#ifndef COFFER_SERVICES_FETCHER_FETCHER_RUNTIME_H_
#define COFFER_SERVICES_FETCHER_FETCHER_RUNTIME_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"

#include "coffer/config/fetcher_config.pb.h"
#include "services/fetcher/chains/chain_reader.h"
#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/http_upstream_transport.h"
#include "services/fetcher/chains/upstream_transport.h"
#include "services/fetcher/fetcher_service.h"
#include "services/fetcher/http/http_client.h"
#include "services/fetcher/price_reader.h"

namespace coffer::fetcher {

class FetcherRuntime {
 public:
  // Fails when a header secret cannot be read, naming the field.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<FetcherRuntime>> Create(
      const config::FetcherConfig& config);

  // Stops the HTTP engine: every upstream request still in flight finishes
  // CANCELLED. After the gRPC server has shut down.
  ~FetcherRuntime();

  FetcherService::Options service_options() const;

  // Probes every chain's endpoints now and then every `interval`, on the
  // HTTP loop's timers (no thread of its own); ends with the runtime.
  void StartProbes(absl::Duration interval);

 private:
  struct Chain {
    std::unique_ptr<EndpointSet> endpoints;
    std::unique_ptr<UpstreamTransport> transport;
    std::unique_ptr<ChainReader> reader;
  };

  explicit FetcherRuntime(const config::FetcherConfig& config);
  void ProbeAndReschedule(absl::Duration interval);
  absl::Status AddPriceSources(const config::FetcherConfig& config,
                               const HttpUpstreamTransport::Options& transport);

  FetcherService::Options options_;
  std::unique_ptr<HttpClient> http_;
  // The destructor shuts the client down first (its pending callbacks use
  // the readers), then these go, then the client.
  std::vector<Chain> chains_;
  std::unique_ptr<EndpointSet> price_sources_;
  std::unique_ptr<UpstreamTransport> price_transport_;
  std::unique_ptr<PriceReader> prices_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_FETCHER_RUNTIME_H_
