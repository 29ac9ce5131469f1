#include "common/metrics/http_exporter.h"

#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "common/exec/thread_name.h"

namespace coffer::metrics {
namespace {

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Scrapes are rare and small: two workers instead of httplib's default of
// one per core (at least eight).
constexpr size_t kWorkerThreads = 2;

}  // namespace

struct HttpExporter::Listener {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  // Set by the thread when listen_after_bind returns.
  std::atomic<bool> finished{false};
};

HttpExporter::HttpExporter(const Registry& registry) : registry_(registry) {}

HttpExporter::~HttpExporter() { Stop(); }

absl::Status HttpExporter::Start(std::string host, int port) {
  std::lock_guard<std::mutex> lock(mu_);
  if (listener_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics exporter already serving on port ", listener_->port));
  }
  auto listener = std::make_unique<Listener>();
  httplib::Server& server = listener->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // httplib's default options add SO_REUSEPORT, which would let a second
  // process bind the same port and silently take half of the scrapes; keep
  // SO_REUSEADDR only, so that a restart can rebind at once.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // httplib 0.11's workers do not notice stop() while they wait on an idle
  // keep-alive connection, so Stop would hang for the keep-alive timeout.
  // One request per connection (a scrape every few seconds gains nothing
  // from reuse) and a short wait for a connection's request bound that.
  server.set_keep_alive_max_count(1);
  server.set_keep_alive_timeout(1);
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry_.PrometheusText(), kContentType);
  });

  if (port == 0) {
    listener->port = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    listener->port = port;
  } else {
    listener->port = -1;
  }
  if (listener->port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics exporter cannot listen on ", host, ":", port));
  }

  Listener* raw = listener.get();
  raw->thread = std::thread([raw] {
    exec::SetCurrentThreadName("metrics-http");
    // httplib 0.11 writes without MSG_NOSIGNAL, so a scraper that hangs up
    // mid-response would raise SIGPIPE and kill the whole service. Blocking
    // it here, rather than ignoring it process-wide, turns it into EPIPE for
    // this thread and for the workers it starts, which inherit the mask.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    raw->server.listen_after_bind();
    raw->finished.store(true);
  });
  // httplib 0.11's stop() does nothing until the accept loop has begun (and
  // offers no wait_until_ready), so a Stop right after Start would leave the
  // thread listening forever: wait for the loop, which takes microseconds.
  while (!raw->server.is_running() && !raw->finished.load()) {
    absl::SleepFor(absl::Microseconds(100));
  }
  if (!raw->server.is_running()) {
    raw->thread.join();
    return absl::UnavailableError(
        absl::StrCat("metrics exporter failed to serve on ", host, ":", port));
  }
  listener_ = std::move(listener);
  return absl::OkStatus();
}

void HttpExporter::Stop() {
  std::unique_ptr<Listener> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener = std::move(listener_);
  }
  if (listener == nullptr) return;
  listener->server.stop();
  listener->thread.join();
}

int HttpExporter::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return listener_ == nullptr ? 0 : listener_->port;
}

}  // namespace coffer::metrics
