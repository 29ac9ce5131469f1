// The fetcher's HTTP engine: libcurl's multi interface driven by one thread
// that this object owns, plus timers on that same thread.
//
//   CurlLoop loop(CurlLoop::Options{});
//   CurlLoop::RequestHandle handle = loop.Submit(
//       std::move(request), [](absl::StatusOr<HttpResponse> outcome) {
//         // On the loop thread: hand the result on, do not block.
//       });
//   loop.RunAfter(absl::Milliseconds(250), [](absl::Status status) {
//     // On the loop thread; CANCELLED if the loop shut down first.
//   });
//   handle.Cancel();   // done gets CANCELLED, unless it already ran
//   loop.Shutdown();   // or let the destructor do it
//
// Threads. Submit, RunAt, RunAfter, Post and Cancel may be called from any
// thread: they queue the work and wake the loop with curl_multi_wakeup. Every
// callback runs on the loop thread, one at a time, and must be quick and
// never block: while it runs no other transfer makes progress. Callbacks may
// call Submit, RunAt and Post themselves.
//
// Connections. The multi handle keeps a cache of open connections that all
// transfers share, limited to max_total_connections in all and
// max_host_connections per host (transfers beyond a limit wait inside
// libcurl, holding no socket). Keep-alive connections are reused; HTTP/2 is
// negotiated over TLS where the server offers it (h2c is never attempted)
// and its streams are multiplexed over one connection. Easy handles are
// kept and reset for the next transfer rather than freed. Resolved names
// stay in the multi's DNS cache for dns_cache_ttl.
//
// Lifecycle. Shutdown stops accepting work, fails every pending transfer
// with CANCELLED, runs every pending timer with CANCELLED, and joins the
// thread. After that, Submit runs `done` with CANCELLED and RunAt runs its
// callback with CANCELLED at once, on the calling thread.
#ifndef COFFER_SERVICES_FETCHER_HTTP_CURL_LOOP_H_
#define COFFER_SERVICES_FETCHER_HTTP_CURL_LOOP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "services/fetcher/http/http_types.h"

namespace coffer::fetcher {

class CurlLoop {
 public:
  struct Options {
    // Names the loop's thread (15 characters at most are kept).
    std::string name = "curl-loop";
    // CURLMOPT_MAX_TOTAL_CONNECTIONS; also the size of the connection cache.
    long max_total_connections = 100;
    // CURLMOPT_MAX_HOST_CONNECTIONS.
    long max_host_connections = 20;
    // A response body longer than this fails the transfer with
    // RESOURCE_EXHAUSTED as soon as the excess arrives.
    size_t max_response_bytes = size_t{16} << 20;
    // How long a resolved name is reused.
    absl::Duration dns_cache_ttl = absl::Minutes(1);
    // Offer HTTP/2 over TLS (ALPN) and multiplex streams on one connection.
    bool http2 = true;
  };

  // What the loop has done so far; for tests and ListUpstreams.
  struct Counters {
    uint64_t transfers_completed = 0;
    // New connections made (CURLINFO_NUM_CONNECTS summed over transfers).
    uint64_t connections_opened = 0;
    // Transfers that got a response without making a new connection.
    uint64_t connections_reused = 0;
  };

  using Done = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>)>;
  // OK when the timer is due, CANCELLED when the loop shut down first.
  using TimerCallback = absl::AnyInvocable<void(absl::Status)>;

  // Cancels one submitted request. Cheap to copy; usable after the request
  // has finished (Cancel then does nothing), but not after the loop is
  // destroyed.
  class RequestHandle {
   public:
    RequestHandle() = default;
    // Removes the request from the loop; its `done` runs with CANCELLED on
    // the loop thread, unless it has already run. Any thread; idempotent.
    void Cancel();

   private:
    friend class CurlLoop;
    RequestHandle(CurlLoop* loop, uint64_t id) : loop_(loop), id_(id) {}
    // Plain values, no shared state: a request is named by its id, which is
    // never reused, so a late Cancel finds nothing and does nothing.
    CurlLoop* loop_ = nullptr;
    uint64_t id_ = 0;
  };

  // Starts the loop thread. Aborts if libcurl cannot create a multi handle.
  explicit CurlLoop(Options options);
  // Shuts down. Must not run on the loop thread (aborts).
  ~CurlLoop();

  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // Starts `request`; `done` runs exactly once, on the loop thread (or on
  // the calling thread, with CANCELLED, after Shutdown).
  RequestHandle Submit(HttpRequest request, Done done);

  // Runs `callback` once on the loop thread at `when` (at once if past), or
  // with CANCELLED at Shutdown. Timers due at the same time run in the
  // order they were set.
  void RunAt(absl::Time when, TimerCallback callback);
  void RunAfter(absl::Duration delay, TimerCallback callback) {
    RunAt(absl::Now() + delay, std::move(callback));
  }
  // Runs `callback` on the loop thread as soon as possible.
  void Post(TimerCallback callback) { RunAt(absl::InfinitePast(), std::move(callback)); }

  // Stops accepting work, cancels what is pending (see the file comment) and
  // joins the thread. Idempotent. Called on the loop thread (from a
  // callback) it only stops accepting work and returns; the destructor
  // joins.
  void Shutdown();

  // True on the loop's own thread.
  bool InLoopThread() const;

  Counters counters() const;

 private:
  struct Transfer;
  struct Timer {
    absl::Time when;
    uint64_t sequence;
    // mutable: std::priority_queue only hands out const references, and the
    // callback is moved out just before the timer is popped.
    mutable TimerCallback callback;
  };
  struct TimerLater {
    bool operator()(const Timer& a, const Timer& b) const {
      return a.when != b.when ? a.when > b.when : a.sequence > b.sequence;
    }
  };

  void Run();
  // Moves queued submissions, cancellations and timers into the loop's own
  // state. Returns false once Shutdown has been requested.
  bool DrainInbox();
  void StartTransfer(std::unique_ptr<Transfer> transfer);
  void FinishTransfers();
  void RunDueTimers();
  // Milliseconds until the next timer, rounded up, capped at `cap_ms`.
  int MillisUntilNextTimer(int cap_ms) const;
  void CancelEverything();
  void RequestCancel(uint64_t id);

  const Options options_;
  void* multi_ = nullptr;  // CURLM*, set once in the constructor.

  mutable std::mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Transfer>> submitted_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mu_);
  std::vector<Timer> timers_set_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  Counters counters_ ABSL_GUARDED_BY(mu_);

  // Loop thread only.
  std::map<uint64_t, std::unique_ptr<Transfer>> active_;
  std::priority_queue<Timer, std::vector<Timer>, TimerLater> timers_;
  std::vector<void*> idle_easy_handles_;  // CURL*, reset and ready for reuse.

  std::atomic<std::thread::id> loop_thread_id_;
  std::mutex join_mu_;
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_HTTP_CURL_LOOP_H_
