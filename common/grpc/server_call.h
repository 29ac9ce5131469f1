// The part of a server call object that does not depend on its message
// types: reference counting, cancellation, admission (bearer token, then an
// in-flight slot) and metrics. UnaryCall and ServerStreamCall build on it.
//
// Ownership. A call object owns itself and is freed when its reference
// count drops to zero. One reference is held by
//   - each operation whose tag is inside a completion queue (request,
//     notify-when-done, write, finish), released when the tag comes back;
//   - the handler's Done or ServerWriter, released when that is consumed or
//     destroyed.
// So a call is never freed while any of its tags is still in a queue, nor
// while a handler can still reach it.
//
// Crash or handle: anything a client, an upstream or the network can cause
// (cancellation, deadlines, a queue shutting down, malformed requests) is
// handled and reported as a Status. A broken invariant of the framework
// itself (a reference count below zero) aborts.
#ifndef COFFER_COMMON_GRPC_SERVER_CALL_H_
#define COFFER_COMMON_GRPC_SERVER_CALL_H_

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

#include "common/grpc/auth/role.h"
#include "common/grpc/call_context.h"
#include "common/grpc/completion_tag.h"
#include "common/grpc/in_flight_limiter.h"
#include "common/grpc/method_metrics.h"
#include "common/grpc/server_queue.h"

namespace coffer::grpc_util {

namespace auth {
class CallAuthorizer;  // auth/call_authorizer.h
}  // namespace auth

// What every call of one registered method shares.
class MethodBase {
 public:
  MethodBase(std::string name, InFlightLimiter& limiter, metrics::Registry& registry)
      : metrics_(std::move(name), registry), limiter_(limiter) {}
  virtual ~MethodBase() = default;

  // Creates a call object and asks `queue` for the next call of this method.
  virtual void Arm(ServerQueue& queue) = 0;

  const std::string& name() const { return metrics_.method(); }
  MethodMetrics& metrics() { return metrics_; }
  InFlightLimiter& limiter() { return limiter_; }

  // Before the server starts: who may call this method. Null (the default):
  // everyone. The role the method needs is looked up here, once. With
  // `tls_only`, a call of a method that is not open (health, reflection)
  // that came over a plaintext port is refused (AsyncServer's health port).
  void SetAuthorizer(const auth::CallAuthorizer* authorizer, bool tls_only = false);

  // OK, or the UNAUTHENTICATED / PERMISSION_DENIED to answer instead of
  // running the handler. On the polling thread that accepted the call.
  [[nodiscard]] absl::Status Authorize(const grpc::ServerContext& context) const;

 private:
  MethodMetrics metrics_;
  InFlightLimiter& limiter_;
  const auth::CallAuthorizer* authorizer_ = nullptr;
  std::optional<auth::Role> required_role_;
  bool tls_only_ = false;
};

class ServerCall : public CallContext {
 public:
  ServerCall(const ServerCall&) = delete;
  ServerCall& operator=(const ServerCall&) = delete;

  // CallContext
  std::string_view method() const override { return method_.name(); }
  absl::Time deadline() const override;
  bool IsCancelled() const override { return cancelled_.load(std::memory_order_acquire); }
  void OnCancel(absl::AnyInvocable<void() &&> callback) override;
  grpc::ServerContext& server_context() override { return server_context_; }

  // For debug-mode reports of the tags this call owns.
  std::string_view Describe() const { return method_.name(); }

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Frees the call when this was the last reference.
  void Unref();

  // Ends the call with `status`. Called exactly once per admitted call, by
  // the handler's Done or ServerWriter, from any thread.
  virtual void FinishWith(absl::Status status) = 0;

 protected:
  ServerCall(MethodBase& method, ServerQueue& queue);
  virtual ~ServerCall() = default;

  // ARMED: registers the notify-when-done tag, then runs `request` (which
  // starts Request<Method> with the call's request tag) unless the server
  // stopped accepting. Takes a reference for each of the two tags, and drops
  // both when the request could not start.
  void Arm(absl::FunctionRef<void()> request);

  // What the request tag does, for every kind of call: on ok == false the
  // call never started, so its done tag never comes (grpc#10136) and both
  // references go. Otherwise the method is re-armed, the caller's token is
  // checked and the call takes an in-flight slot, then `run_handler` runs
  // holding a reference for the handler's Done or ServerWriter. A refused
  // token is answered UNAUTHENTICATED or PERMISSION_DENIED, and a call past
  // the in-flight limit RESOURCE_EXHAUSTED, without running the handler.
  // Finally the request's reference goes.
  void OnRequested(bool ok, absl::FunctionRef<void()> run_handler);

  // Records the outcome of an admitted call (once) and frees its slot.
  void RecordFinish(const absl::Status& status);

  MethodBase& method_;
  ServerQueue& queue_;
  grpc::ServerContext server_context_;

 private:
  // Re-arms the method, checks the caller's token (before taking a slot, so
  // refused callers never hold one) and takes an in-flight slot. Answers
  // why the call may not run, if it may not.
  [[nodiscard]] absl::Status Accept();

  // The notify-when-done tag: comes back once the call is over, whether it
  // finished or was cancelled, but only for a call that started (grpc#10136).
  void OnDone(bool ok);

  std::atomic<int> refs_{0};
  std::atomic<bool> cancelled_{false};
  absl::Time accepted_at_;
  bool admitted_ = false;
  std::atomic<bool> recorded_{false};
  MemberTag<ServerCall, &ServerCall::OnDone> done_tag_{this};

  std::mutex cancel_mu_;
  absl::AnyInvocable<void() &&> on_cancel_ ABSL_GUARDED_BY(cancel_mu_);
  bool done_ ABSL_GUARDED_BY(cancel_mu_) = false;
};

// A unary handler's way to answer: call it exactly once, from any thread,
// after filling the reply. A second call is caught: it is logged, counted in
// `grpc_server_done_misuse_total` and ignored. Dropping a Done without
// calling it answers INTERNAL, so a call can never hang for lack of an
// answer.
class Done {
 public:
  explicit Done(ServerCall* call) : call_(call) {}
  Done(Done&& other) noexcept
      : call_(std::exchange(other.call_, nullptr)), called_(std::exchange(other.called_, false)) {}
  Done& operator=(Done&& other) noexcept;
  Done(const Done&) = delete;
  Done& operator=(const Done&) = delete;
  ~Done();

  void operator()(absl::Status status);

 private:
  void Release();

  ServerCall* call_;
  bool called_ = false;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_SERVER_CALL_H_
