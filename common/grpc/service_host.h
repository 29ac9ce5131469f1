// ServiceHost: what every coffer binary runs besides its own service: the
// AsyncServer configured from the common flags, grpc.health.v1, coffer.v1.Admin,
// reflection, the optional Prometheus endpoint, and the orderly shutdown.
// A service's main() only wires:
//
//   int main(int argc, char** argv) {
//     coffer::exec::BlockTerminationSignals();
//     coffer::config::ParseCommandLine(argc, argv, kUsage);
//     coffer::log::Init(coffer::log::OptionsFromFlags("fetcher"));
//     coffer::grpc_util::ServiceHost host({.name = "coffer-fetcher", ...});
//     FetcherService fetcher(...);
//     fetcher.Register(host.server());
//     return host.Run([&] { return fetcher.Start(); }, [&] { fetcher.Stop(); });
//   }
//
// Common flags (each with a COFFER_<NAME> environment fallback):
//   --listen, --completion_queues, --calls_armed_per_method,
//   --max_in_flight_calls, --shutdown_grace, --debug,
//   --slow_handler_threshold, --metrics_listen, --port_file, and the
//   transport's: --tls_cert, --tls_key, --tls_ca (tls_flags.h), --insecure.
//
// Transport (tls_config.h's MakeServerTransport): TLS with --tls_cert and
// --tls_key, mTLS with --tls_ca as well; without them plaintext, which only
// a loopback --listen allows unless --insecure. Run() logs which one, and a
// refused combination is a startup error (exit code 1) before anything else
// starts.
#ifndef COFFER_COMMON_GRPC_SERVICE_HOST_H_
#define COFFER_COMMON_GRPC_SERVICE_HOST_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "common/grpc/admin_service.h"
#include "common/grpc/async_server.h"
#include "common/grpc/health_service.h"
#include "common/grpc/tls_config.h"
#include "common/metrics/http_exporter.h"

namespace coffer::grpc_util {

class ServiceHost {
 public:
  struct Options {
    // "coffer-fetcher": for logs and Admin.GetStatus.
    std::string name;
    // The gRPC services whose health is reported ("coffer.v1.Fetcher").
    std::vector<std::string> grpc_services;
    // Used when --listen is empty.
    std::string default_listen;
  };

  // Reads the common flags; call after flags are parsed.
  explicit ServiceHost(Options options);
  ~ServiceHost();

  AsyncServer& server() { return *server_; }
  HealthService& health() { return health_; }
  AdminService& admin() { return *admin_; }

  // Starts serving (NOT_SERVING), runs `start` (the service's own startup,
  // e.g. opening its database), reports SERVING, waits for SIGTERM/SIGINT,
  // then shuts down: health NOT_SERVING, the server (grace from
  // --shutdown_grace), then `stop` (the service's executors). Returns the
  // process exit code: 0 after a clean shutdown, 1 when startup failed.
  int Run(std::function<absl::Status()> start = nullptr, std::function<void()> stop = nullptr);

 private:
  absl::Status WritePortFile() const;

  Options options_;
  // The transport chosen from the flags, or why none could be: reported by
  // Run(), which then starts nothing.
  absl::StatusOr<ServerTransport> transport_;
  HealthService health_;
  std::unique_ptr<AsyncServer> server_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<metrics::HttpExporter> exporter_;
  absl::Duration shutdown_grace_;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_SERVICE_HOST_H_
