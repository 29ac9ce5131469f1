// AsyncClient<Service>: calls another service over the completion-queue API.
//
//   ClientQueue queue;                                   // one poller thread
//   AsyncClient<v1::Admin> admin(channel, &queue);
//   CallHandle call = admin.Call(&v1::Admin::Stub::PrepareAsyncGetStatus, request,
//                                [](absl::StatusOr<v1::GetStatusResponse> reply) { ... });
//   call.Cancel();  // optional: `done` then gets CANCELLED unless it came
//   // On a thread that may block (CLI, tests, a worker):
//   absl::StatusOr<v1::GetStatusResponse> reply =
//       admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, request);
//   // Server streaming: one callback per message, one at the end.
//   CallHandle watch = health.Stream(&Health::Stub::PrepareAsyncWatch, request,
//       [](const HealthCheckResponse& update) { ... },
//       [](absl::Status status) { ... });
//   watch.Cancel();
//
// Every call has a deadline: the one in CallOptions, or the client's
// default. Callbacks run on the queue's poller thread and must not block.
// A call started after the queue began shutting down fails at once with
// UNAVAILABLE, on the calling thread.
#ifndef COFFER_COMMON_GRPC_ASYNC_CLIENT_H_
#define COFFER_COMMON_GRPC_ASYNC_CLIENT_H_

#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

#include "common/grpc/client_calls.h"
#include "common/grpc/client_queue.h"

namespace coffer::grpc_util {

struct CallOptions {
  // Zero: the client's default deadline.
  absl::Duration timeout = absl::ZeroDuration();
  // Extra request metadata ("authorization": "Bearer ...").
  std::vector<std::pair<std::string, std::string>> metadata = {};
  // Wait for the channel to connect instead of failing fast.
  bool wait_for_ready = false;
};

// A started call, unary or streaming; Cancel() ends it early on the wire (the
// server sees the cancellation, and the call's done callback reports
// CANCELLED unless its answer came first). Cheap to copy; safe after the
// call ended.
class CallHandle {
 public:
  CallHandle() = default;
  explicit CallHandle(std::shared_ptr<grpc::ClientContext> context)
      : context_(std::move(context)) {}
  void Cancel() {
    if (context_) context_->TryCancel();
  }

 private:
  std::shared_ptr<grpc::ClientContext> context_;
};

template <typename Service>
class AsyncClient {
 public:
  using Stub = typename Service::Stub;

  // `queue` must outlive the client and every call it started.
  AsyncClient(std::shared_ptr<grpc::Channel> channel, ClientQueue* queue,
              absl::Duration default_timeout = absl::Seconds(10))
      : channel_(std::move(channel)),
        stub_(Service::NewStub(channel_)),
        queue_(queue),
        default_timeout_(default_timeout) {}

  template <typename Request, typename Reply>
  using UnaryPrepare = std::unique_ptr<grpc::ClientAsyncResponseReader<Reply>> (Stub::*)(
      grpc::ClientContext*, const Request&, grpc::CompletionQueue*);

  template <typename Request, typename Reply>
  using StreamPrepare = std::unique_ptr<grpc::ClientAsyncReader<Reply>> (Stub::*)(
      grpc::ClientContext*, const Request&, grpc::CompletionQueue*);

  // Starts a unary call; `done` runs once, on the poller thread (or on this
  // thread if the queue is shutting down).
  template <typename Request, typename Reply>
  CallHandle Call(UnaryPrepare<Request, Reply> prepare, const Request& request,
                  std::type_identity_t<absl::AnyInvocable<void(absl::StatusOr<Reply>) &&>> done,
                  const CallOptions& options = {}) {
    auto* call = new ClientUnaryCall<Reply>(queue_, std::move(done));
    Configure(call->context(), options);
    CallHandle handle(call->shared_context());
    call->Start([&](grpc::ClientContext* context, grpc::CompletionQueue* cq) {
      return (stub_.get()->*prepare)(context, request, cq);
    });
    return handle;
  }

  // The same, waiting for the reply. Never from a poller thread.
  template <typename Request, typename Reply>
  absl::StatusOr<Reply> CallBlocking(UnaryPrepare<Request, Reply> prepare, const Request& request,
                                     const CallOptions& options = {}) {
    if (queue_->OnPollerThread()) {
      return absl::FailedPreconditionError("blocking call from a completion-queue poller");
    }
    std::promise<absl::StatusOr<Reply>> result;
    std::future<absl::StatusOr<Reply>> ready = result.get_future();
    Call<Request, Reply>(
        prepare, request,
        [&result](absl::StatusOr<Reply> reply) { result.set_value(std::move(reply)); }, options);
    return ready.get();
  }

  // Starts a server-streaming call: `on_message` for each message, then
  // `on_done` once with the final status. Both on the poller thread.
  template <typename Request, typename Reply>
  CallHandle Stream(StreamPrepare<Request, Reply> prepare, const Request& request,
                    std::type_identity_t<absl::AnyInvocable<void(const Reply&)>> on_message,
                    std::type_identity_t<absl::AnyInvocable<void(absl::Status) &&>> on_done,
                    const CallOptions& options = {}) {
    auto* call = new ClientStreamCall<Reply>(queue_, std::move(on_message), std::move(on_done));
    Configure(call->context(), options);
    CallHandle handle(call->shared_context());
    call->Start([&](grpc::ClientContext* context, grpc::CompletionQueue* cq) {
      return (stub_.get()->*prepare)(context, request, cq);
    });
    return handle;
  }

  // Metadata sent with every call of this client: a bearer token
  // (auth/bearer_token.h). A key in a call's CallOptions::metadata replaces
  // the default for that call. Set it before the first call; it is not
  // synchronized with calls in flight.
  void SetDefaultMetadata(std::vector<std::pair<std::string, std::string>> metadata) {
    default_metadata_ = std::move(metadata);
  }

  Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  void Configure(grpc::ClientContext* context, const CallOptions& options) const {
    absl::Duration timeout =
        options.timeout > absl::ZeroDuration() ? options.timeout : default_timeout_;
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context->set_wait_for_ready(options.wait_for_ready);
    for (const auto& [key, value] : default_metadata_) {
      // A key the call sets itself replaces the default (one token per call).
      bool replaced = std::any_of(options.metadata.begin(), options.metadata.end(),
                                  [&key = key](const auto& entry) { return entry.first == key; });
      if (!replaced) context->AddMetadata(key, value);
    }
    for (const auto& [key, value] : options.metadata) context->AddMetadata(key, value);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  ClientQueue* queue_;
  absl::Duration default_timeout_;
  std::vector<std::pair<std::string, std::string>> default_metadata_;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_ASYNC_CLIENT_H_
