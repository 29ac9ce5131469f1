#ifndef COFFER_COMMON_METRICS_HTTP_EXPORTER_H_
#define COFFER_COMMON_METRICS_HTTP_EXPORTER_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

#include "common/metrics/registry.h"

namespace coffer::metrics {

// Serves a registry's metrics to Prometheus: `GET /metrics` answers
// Registry::PrometheusText(); every other path is 404. It owns its listening
// thread (and cpp-httplib's two worker threads): Stop, or the destructor,
// joins them.
//
//   HttpExporter exporter;  // Registry::Global()
//   if (absl::Status s = exporter.Start("127.0.0.1", 9464); !s.ok()) ...
//
// Plain HTTP without authentication: bind it to loopback or a network that
// only the scraper reaches. Thread-safe.
class HttpExporter {
 public:
  // `registry` must outlive the exporter.
  explicit HttpExporter(const Registry& registry = Registry::Global());
  // Calls Stop.
  ~HttpExporter();

  HttpExporter(const HttpExporter&) = delete;
  HttpExporter& operator=(const HttpExporter&) = delete;

  // Listens on `host`:`port` (port 0 picks a free port; see port()) and
  // serves from a thread of its own. The socket accepts connections by the
  // time Start returns. UNAVAILABLE when the address cannot be bound,
  // FAILED_PRECONDITION when already started. May be called again after
  // Stop.
  [[nodiscard]] absl::Status Start(std::string host, int port);

  // Stops listening, waits for requests in progress, and joins the threads.
  // Idempotent. Connections serve one request each, so this waits at most
  // about a second for a client that connected and sent nothing.
  void Stop();

  // The port being served, or 0 when not started.
  int port() const;

 private:
  // The cpp-httplib server and the thread running it; defined in the .cc so
  // that httplib.h stays out of this header's users.
  struct Listener;

  const Registry& registry_;
  mutable std::mutex mu_;
  std::unique_ptr<Listener> listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_HTTP_EXPORTER_H_
