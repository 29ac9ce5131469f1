// What a handler may know and do about the call it serves, beyond its
// request: deadline, cancellation, metadata, peer.
//
// A CallContext lives as long as the call object; a handler may use it for as
// long as it holds the call's Done (unary) or ServerWriter (streaming).
#ifndef COFFER_COMMON_GRPC_CALL_CONTEXT_H_
#define COFFER_COMMON_GRPC_CALL_CONTEXT_H_

#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

namespace coffer::grpc_util {

class CallContext {
 public:
  // Full method name, "/coffer.v1.Admin/GetStatus".
  virtual std::string_view method() const = 0;

  // The client's deadline, or absl::InfiniteFuture() when it set none.
  virtual absl::Time deadline() const = 0;

  // True once the client cancelled the call or its deadline passed (or the
  // server is shutting down past its grace period). Any thread.
  virtual bool IsCancelled() const = 0;

  // Runs `callback` once when the call is cancelled: at once, on this thread,
  // if it already is; otherwise on a polling thread, so it must not block.
  // It never runs for a call that finishes normally. At most one callback
  // per call; a second replaces the first.
  virtual void OnCancel(absl::AnyInvocable<void() &&> callback) = 0;

  // Client metadata (bearer tokens), peer address, auth context.
  virtual grpc::ServerContext& server_context() = 0;

 protected:
  ~CallContext() = default;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_CALL_CONTEXT_H_
