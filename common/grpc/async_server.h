// AsyncServer: a gRPC server on the completion-queue API, with N queues
// and one polling thread each, where adding a method is one line.
//
//   AsyncServer server(options);
//   server.RegisterService(&async_service_);            // Foo::AsyncService
//   COFFER_GRPC_UNARY(server, async_service_, Foo, GetBar, this);
//   COFFER_GRPC_SERVER_STREAMING(server, async_service_, Foo, WatchBars, this);
//   RETURN_IF_ERROR(server.Start());
//   ...
//   server.Shutdown(absl::Seconds(10));                 // from a non-polling thread
//
// where the handler object (`this`) has
//
//   void HandleGetBar(CallContext&, const GetBarRequest&, GetBarResponse*, Done);
//   void HandleWatchBars(CallContext&, const WatchBarsRequest&, ServerWriter<Bar>);
//
// Handlers run on a polling thread and must not block it: answer at once, or
// hand the work to a thread that exists for it and answer from there (Done
// and ServerWriter may be used from any thread).
//
// The framework keeps `calls_armed_per_method` calls requested per method
// and queue (one outstanding request per method caps throughput, grpc#6504)
// and re-arms each as soon as it is accepted, so handlers never re-arm.
//
// Shutdown, in this order (see ../../DESIGN.md):
//   1. shutdown listeners run (health goes NOT_SERVING, watches end);
//   2. every queue stops accepting new calls (no more Request<Method>);
//   3. grpc::Server::Shutdown(now + grace), while the pollers still run:
//      in-flight calls may finish until the deadline, then are cancelled;
//   4. each queue is shut down (no operation is started after this) and
//      drained by its poller until Next returns false; pollers are joined;
//   5. only then are call objects gone and queues destroyed.
#ifndef COFFER_COMMON_GRPC_ASYNC_SERVER_H_
#define COFFER_COMMON_GRPC_ASYNC_SERVER_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

#include "common/grpc/auth/call_authorizer.h"
#include "common/grpc/in_flight_limiter.h"
#include "common/grpc/server_queue.h"
#include "common/grpc/server_stream_call.h"
#include "common/grpc/slow_handler_detector.h"
#include "common/grpc/unary_call.h"
#include "common/metrics/registry.h"

namespace coffer::grpc_util {

class AsyncServer {
 public:
  struct Options {
    // HOST:PORT; port 0 picks a free port (see port()).
    std::string listen_address = "127.0.0.1:0";
    // Completion queues, one polling thread each; 0: one per core.
    int completion_queues = 0;
    // Calls kept requested per method and queue.
    int calls_armed_per_method = 8;
    // Calls admitted at once across all methods; past it RESOURCE_EXHAUSTED.
    int64_t max_in_flight_calls = 10000;
    // Null: plaintext (loopback only, enforced by the caller).
    std::shared_ptr<grpc::ServerCredentials> credentials;
    // Checks each call's bearer token before its handler runs (health and
    // reflection stay open). Null: every call is allowed (development).
    std::shared_ptr<const auth::CallAuthorizer> authorizer;
    // HOST:PORT of a second, plaintext port for grpc.health.v1 (and
    // reflection) alone: Kubernetes' gRPC probes can present neither a
    // client certificate nor a token. Needs `credentials` (TLS) on the main
    // port: the two ports are told apart by their transport, and every
    // other method refuses a call that did not come over TLS (the caller
    // checks that the main port is TLS). Empty: none.
    std::string health_listen_address;
    // A connection older than this is asked to go away (GOAWAY) and its
    // client reconnects, resolving the server's name again: behind a
    // Kubernetes headless Service that is how clients find the replicas a
    // scale-up added. Calls in flight then get max_connection_age_grace to
    // finish. InfiniteDuration: connections live as long as their clients.
    absl::Duration max_connection_age = absl::InfiniteDuration();
    absl::Duration max_connection_age_grace = absl::Seconds(10);
    // Serve grpc.reflection (gRPC's own plugin) for grpcurl.
    bool enable_reflection = true;
    // Debug mode: time every completion and report slow handlers.
    bool debug = false;
    absl::Duration slow_handler_threshold = absl::Milliseconds(100);
    metrics::Registry* registry = &metrics::Registry::Global();
  };

  explicit AsyncServer(Options options);
  AsyncServer(const AsyncServer&) = delete;
  AsyncServer& operator=(const AsyncServer&) = delete;
  // Shuts down with no grace period if still running.
  ~AsyncServer();

  // Before Start: a generated AsyncService (not owned; must outlive this).
  void RegisterService(grpc::Service* service);

  // Before Start. Prefer the COFFER_GRPC_* macros below.
  template <typename Service, typename Base, typename Request, typename Reply, typename Handler>
  void AddUnary(std::string method, Service* service,
                void (Base::*request)(grpc::ServerContext*, Request*,
                                      grpc::ServerAsyncResponseWriter<Reply>*,
                                      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
                Handler handler) {
    auto request_fn = [service, request](grpc::ServerContext* context, Request* message,
                                         grpc::ServerAsyncResponseWriter<Reply>* responder,
                                         grpc::ServerCompletionQueue* cq, void* tag) {
      (service->*request)(context, message, responder, cq, cq, tag);
    };
    methods_.push_back(std::make_unique<UnaryMethod<Request, Reply>>(
        std::move(method), limiter_, *options_.registry, std::move(request_fn),
        std::move(handler)));
  }

  template <typename Service, typename Base, typename Request, typename Reply, typename Handler>
  void AddServerStreaming(std::string method, Service* service,
                          void (Base::*request)(grpc::ServerContext*, Request*,
                                                grpc::ServerAsyncWriter<Reply>*,
                                                grpc::CompletionQueue*,
                                                grpc::ServerCompletionQueue*, void*),
                          Handler handler) {
    auto request_fn = [service, request](grpc::ServerContext* context, Request* message,
                                         grpc::ServerAsyncWriter<Reply>* writer,
                                         grpc::ServerCompletionQueue* cq, void* tag) {
      (service->*request)(context, message, writer, cq, cq, tag);
    };
    methods_.push_back(std::make_unique<ServerStreamingMethod<Request, Reply>>(
        std::move(method), limiter_, *options_.registry, std::move(request_fn),
        std::move(handler)));
  }

  // Before Start: replaces Options::authorizer (see auth/auth_flags.h).
  void SetAuthorizer(std::shared_ptr<const auth::CallAuthorizer> authorizer) {
    options_.authorizer = std::move(authorizer);
  }

  // Runs at the start of Shutdown, before anything stops (in the order
  // added, on the thread that called Shutdown). Before Start.
  void AddShutdownListener(std::function<void()> listener);

  // Binds, starts the pollers and arms every method. Errors: the address
  // could not be bound (UNAVAILABLE, naming it), bad options.
  [[nodiscard]] absl::Status Start();

  // The bound port (after Start).
  int port() const { return port_; }
  // The bound health port (after Start; 0 without one).
  int health_port() const { return health_port_; }
  const std::string& listen_address() const { return options_.listen_address; }
  int completion_queues() const { return static_cast<int>(queues_.size()); }
  const InFlightLimiter& limiter() const { return limiter_; }
  const Options& options() const { return options_; }
  // Slow handlers seen so far (debug mode), else 0.
  uint64_t slow_handlers() const;

  // Graceful shutdown as described above; returns when every poller has
  // exited. Idempotent. Never call it from a polling thread.
  void Shutdown(absl::Duration grace);

  // Blocks until Shutdown has completed (from another thread).
  void WaitForShutdown();

 private:
  Options options_;
  InFlightLimiter limiter_;
  std::unique_ptr<SlowHandlerDetector> detector_;
  std::vector<grpc::Service*> services_;
  std::vector<std::unique_ptr<MethodBase>> methods_;
  std::vector<std::function<void()>> shutdown_listeners_;
  int port_ = 0;
  int health_port_ = 0;

  // Destroyed in reverse: the server before the queues it uses.
  std::vector<std::unique_ptr<ServerQueue>> queues_;
  std::unique_ptr<grpc::Server> server_;

  std::mutex mu_;
  std::condition_variable shut_down_cv_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// Registers Service::Method of `async_service` (a Service::AsyncService
// member registered with RegisterService) on `server`, handled by
// `handler->Handle<Method>`. Every input is an argument.
#define COFFER_GRPC_UNARY(server, async_service, Service, Method, handler)                         \
  (server).AddUnary(                                                                               \
      std::string("/") + Service::service_full_name() + "/" #Method, &(async_service),             \
      &Service::AsyncService::Request##Method,                                                     \
      [h = (handler)](::coffer::grpc_util::CallContext& context, const auto& request, auto* reply, \
                      ::coffer::grpc_util::Done done) {                                            \
        h->Handle##Method(context, request, reply, std::move(done));                               \
      })

#define COFFER_GRPC_SERVER_STREAMING(server, async_service, Service, Method, handler)  \
  (server).AddServerStreaming(                                                         \
      std::string("/") + Service::service_full_name() + "/" #Method, &(async_service), \
      &Service::AsyncService::Request##Method,                                         \
      [h = (handler)](::coffer::grpc_util::CallContext& context, const auto& request,  \
                      auto writer) { h->Handle##Method(context, request, std::move(writer)); })

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_ASYNC_SERVER_H_
