// The call object of a unary RPC, one per call, created by UnaryMethod.
//
// Lifecycle (each step after ARMED starts when a tag comes back):
//
//   ARMED      NotifyWhenDone + Request<Method>. refs: request, done.
//     | request ok == false: the server is shutting down and the call never
//     |   started, so its done tag never comes (grpc#10136): drop both refs.
//     v request ok == true
//   ACCEPTED   re-arm the method; check the bearer token, or Finish with
//     |        UNAUTHENTICATED / PERMISSION_DENIED; take an in-flight slot,
//     |        or Finish with RESOURCE_EXHAUSTED when none is left.
//     v
//   HANDLING   handler(context, request, &reply, Done) on the polling
//     |        thread; the handler answers now or later from any thread.
//     v Done(status)
//   FINISHING  Finish(reply, status). refs: finish (+ done until it comes).
//     v finish and done tags back
//   freed
#ifndef COFFER_COMMON_GRPC_UNARY_CALL_H_
#define COFFER_COMMON_GRPC_UNARY_CALL_H_

#include <functional>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "common/grpc/server_call.h"
#include "common/grpc/status_conversion.h"

namespace coffer::grpc_util {

template <typename Request, typename Reply>
class UnaryMethod final : public MethodBase {
 public:
  // Starts one Request<Method> on the generated AsyncService.
  using RequestFn =
      std::function<void(grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Reply>*,
                         grpc::ServerCompletionQueue*, void* tag)>;
  // The one handler shape: answer by filling `reply` and calling `done`.
  using Handler = std::function<void(CallContext&, const Request&, Reply*, Done)>;

  UnaryMethod(std::string name, InFlightLimiter& limiter, metrics::Registry& registry,
              RequestFn request, Handler handler)
      : MethodBase(std::move(name), limiter, registry),
        request_(std::move(request)),
        handler_(std::move(handler)) {}

  void Arm(ServerQueue& queue) override;

  const RequestFn& request() const { return request_; }
  const Handler& handler() const { return handler_; }

 private:
  RequestFn request_;
  Handler handler_;
};

template <typename Request, typename Reply>
class UnaryCall final : public ServerCall {
 public:
  UnaryCall(UnaryMethod<Request, Reply>& method, ServerQueue& queue)
      : ServerCall(method, queue), unary_method_(method), responder_(&server_context_) {}

  // ARMED. On the thread that armed the method (a poller, or Start).
  void Arm() {
    ServerCall::Arm([this] {
      unary_method_.request()(&server_context_, &request_, &responder_, queue_.cq(), &request_tag_);
    });
  }

  void FinishWith(absl::Status status) override {
    RecordFinish(status);
    Ref();
    bool started =
        queue_.StartOp([&] { responder_.Finish(reply_, ToGrpcStatus(status), &finish_tag_); });
    if (!started) Unref();
  }

 private:
  void OnRequested(bool ok) {
    ServerCall::OnRequested(
        ok, [this] { unary_method_.handler()(*this, request_, &reply_, Done(this)); });
  }

  void OnFinished(bool /*ok*/) { Unref(); }

  UnaryMethod<Request, Reply>& unary_method_;
  Request request_;
  Reply reply_;
  grpc::ServerAsyncResponseWriter<Reply> responder_;
  MemberTag<UnaryCall, &UnaryCall::OnRequested> request_tag_{this};
  MemberTag<UnaryCall, &UnaryCall::OnFinished> finish_tag_{this};
};

template <typename Request, typename Reply>
void UnaryMethod<Request, Reply>::Arm(ServerQueue& queue) {
  (new UnaryCall<Request, Reply>(*this, queue))->Arm();
}

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_UNARY_CALL_H_
