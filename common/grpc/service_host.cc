#include "common/grpc/service_host.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include <spdlog/spdlog.h>

#include "common/exec/termination_signal.h"
#include "common/grpc/auth/auth_flags.h"
#include "common/grpc/tls_config.h"
#include "common/grpc/tls_flags.h"
#include "common/log/fmt_absl.h"

ABSL_FLAG(std::string, listen, "",
          "HOST:PORT to serve gRPC on (port 0 picks a free one; empty: the service's "
          "default loopback port)");
ABSL_FLAG(int, completion_queues, 0,
          "Completion queues, each with one polling thread (0: one per core)");
ABSL_FLAG(int, calls_armed_per_method, 8, "Calls kept requested per method and completion queue");
ABSL_FLAG(int64_t, max_in_flight_calls, 10000,
          "Calls served at once; past it calls are answered RESOURCE_EXHAUSTED");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long calls in flight may take to finish before they are "
          "cancelled");
ABSL_FLAG(bool, debug, false,
          "Debug mode: log and count handlers that hold a polling thread longer than "
          "--slow_handler_threshold");
ABSL_FLAG(absl::Duration, slow_handler_threshold, absl::Milliseconds(100),
          "Debug mode's threshold for a slow handler");
ABSL_FLAG(std::string, health_listen, "",
          "HOST:PORT of a second, plaintext port serving only grpc.health.v1, for probes that "
          "cannot do TLS or tokens (Kubernetes); needs --tls_cert; empty: none");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus text on at /metrics, plain HTTP (empty: off; a "
          "non-loopback HOST needs --insecure)");
ABSL_FLAG(bool, insecure, false,
          "Allow plaintext on an address that is not loopback: --listen without --tls_cert, "
          "and --metrics_listen; without it either is a startup error");
ABSL_FLAG(absl::Duration, max_connection_age, absl::InfiniteDuration(),
          "Ask a client connection older than this to reconnect (GOAWAY; calls in flight get "
          "--shutdown_grace to finish), so clients resolving a headless Service again spread "
          "over replicas added since; inf: never");
ABSL_FLAG(std::string, port_file, "",
          "After startup, write the bound gRPC port to this file (for tests and scripts)");

namespace coffer::grpc_util {
namespace {

constexpr char kVersion[] = "0.1.0";

absl::Status StartExporter(metrics::HttpExporter& exporter, const std::string& address,
                           bool insecure) {
  std::pair<std::string, std::string> parts = absl::StrSplit(address, absl::MaxSplits(':', 1));
  int port = 0;
  if (parts.first.empty() || !absl::SimpleAtoi(parts.second, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen: expected HOST:PORT, got \"", address, "\""));
  }
  // The same rule as the gRPC port's: nothing plaintext leaves the machine
  // unless the operator said so. The text holds counters and latencies
  // (method, task, upstream host), no address, balance or secret, but a
  // deployment scrapes it over a network it should have chosen to trust.
  if (!IsLoopbackAddress(address) && !insecure) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--metrics_listen=", address,
        " is not a loopback address and serves plain HTTP: give --insecure to allow it, or "
        "read the metrics over gRPC (Admin.GetMetrics, TLS and tokens apply)"));
  }
  return exporter.Start(parts.first, port);
}

}  // namespace

ServiceHost::ServiceHost(Options options)
    : options_(std::move(options)),
      health_(options_.grpc_services),
      shutdown_grace_(absl::GetFlag(FLAGS_shutdown_grace)) {
  AsyncServer::Options server_options;
  server_options.listen_address = absl::GetFlag(FLAGS_listen);
  if (server_options.listen_address.empty())
    server_options.listen_address = options_.default_listen;
  server_options.completion_queues = absl::GetFlag(FLAGS_completion_queues);
  server_options.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  server_options.max_connection_age_grace = shutdown_grace_;
  server_options.calls_armed_per_method = absl::GetFlag(FLAGS_calls_armed_per_method);
  server_options.max_in_flight_calls = absl::GetFlag(FLAGS_max_in_flight_calls);
  server_options.debug = absl::GetFlag(FLAGS_debug);
  server_options.slow_handler_threshold = absl::GetFlag(FLAGS_slow_handler_threshold);
  server_options.health_listen_address = absl::GetFlag(FLAGS_health_listen);
  transport_ = MakeServerTransport(server_options.listen_address, TlsFilesFromFlags(),
                                   absl::GetFlag(FLAGS_insecure));
  // On error the server is built but never started (Run() stops first).
  if (transport_.ok()) server_options.credentials = transport_->credentials;
  server_ = std::make_unique<AsyncServer>(server_options);
  health_.Register(*server_);
  admin_ = std::make_unique<AdminService>(options_.name, kVersion, *server_, health_,
                                          metrics::Registry::Global());
  admin_->Register(*server_);
}

ServiceHost::~ServiceHost() = default;

absl::Status ServiceHost::WritePortFile() const {
  std::string path = absl::GetFlag(FLAGS_port_file);
  if (path.empty()) return absl::OkStatus();
  // Written whole, then renamed, so a reader never sees half a number.
  std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << server_->port() << "\n";
    if (!out.good()) return absl::UnavailableError(absl::StrCat("cannot write ", temporary));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", temporary, " to ", path));
  }
  return absl::OkStatus();
}

int ServiceHost::Run(std::function<absl::Status()> start, std::function<void()> stop) {
  spdlog::info("{} {} starting", options_.name, kVersion);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock
  // detection on: every lock gRPC takes (some 27 per call) then updates a
  // global lock graph, 13% of a call's instructions (tools/bench/README.md).
  // Tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (absl::GetFlag(FLAGS_debug)) {
    spdlog::warn("debug mode: handlers holding a polling thread over {} are reported",
                 absl::FormatDuration(absl::GetFlag(FLAGS_slow_handler_threshold)));
  }
  absl::Status status = transport_.status();
  if (status.ok() && !absl::GetFlag(FLAGS_health_listen).empty() &&
      TlsFilesFromFlags().cert_file.empty()) {
    status = absl::InvalidArgumentError(
        "--health_listen needs TLS on the main port (--tls_cert, --tls_key): the two ports are "
        "told apart by their transport");
  }
  if (status.ok()) {
    if (transport_->insecure_exposed) {
      spdlog::warn("gRPC transport: {}", transport_->description);
    } else {
      spdlog::info("gRPC transport: {}", transport_->description);
    }
    status = auth::ConfigureAuthFromFlags(*server_);
    if (status.ok()) status = server_->Start();
  }
  if (status.ok() && server_->health_port() != 0) {
    spdlog::info("grpc.health.v1 alone, plaintext, on {} (port {})",
                 absl::GetFlag(FLAGS_health_listen), server_->health_port());
  }
  if (status.ok()) status = WritePortFile();
  std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (status.ok() && !metrics_listen.empty()) {
    exporter_ = std::make_unique<metrics::HttpExporter>();
    status = StartExporter(*exporter_, metrics_listen, absl::GetFlag(FLAGS_insecure));
    if (status.ok()) spdlog::info("Prometheus metrics on http://{}/metrics", metrics_listen);
  }
  if (status.ok() && start) status = start();
  if (!status.ok()) {
    spdlog::critical("{} failed to start: {}", options_.name, status);
    server_->Shutdown(absl::ZeroDuration());
    if (stop) stop();
    return 1;
  }
  health_.SetServing(true);
  spdlog::info("{} ready on {} (port {})", options_.name, server_->listen_address(),
               server_->port());

  int signal_number = exec::WaitForTerminationSignal();
  spdlog::info("{} received signal {}: shutting down (grace {})", options_.name, signal_number,
               absl::FormatDuration(shutdown_grace_));
  server_->Shutdown(shutdown_grace_);
  if (stop) stop();
  if (exporter_) exporter_->Stop();
  spdlog::info("{} stopped", options_.name);
  return 0;
}

}  // namespace coffer::grpc_util
