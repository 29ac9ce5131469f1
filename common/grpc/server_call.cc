#include "common/grpc/server_call.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <grpc/grpc_security_constants.h>
#include <spdlog/spdlog.h>

#include "common/grpc/auth/call_authorizer.h"
#include "common/grpc/auth/method_roles.h"
#include "common/grpc/auth/refusal_log.h"
#include "common/metrics/registry.h"

namespace coffer::grpc_util {

void MethodBase::SetAuthorizer(const auth::CallAuthorizer* authorizer, bool tls_only) {
  authorizer_ = authorizer;
  required_role_ = auth::RequiredRole(name());
  tls_only_ = tls_only;
}

absl::Status MethodBase::Authorize(const grpc::ServerContext& context) const {
  if (tls_only_ && required_role_.has_value()) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    const bool over_tls = auth != nullptr && [&] {
      for (const grpc::string_ref& type :
           auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME)) {
        // "ssl" from the classic SSL credentials, "tls" from the
        // TlsServerCredentials coffer uses; "insecure" on a plaintext port.
        if (type == GRPC_SSL_TRANSPORT_SECURITY_TYPE || type == "tls") return true;
      }
      return false;
    }();
    if (!over_tls) {
      return absl::UnauthenticatedError("this port serves grpc.health.v1 only; use the TLS port");
    }
  }
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->Authorize(name(), required_role_, context.client_metadata());
}

ServerCall::ServerCall(MethodBase& method, ServerQueue& queue) : method_(method), queue_(queue) {}

absl::Time ServerCall::deadline() const {
  auto deadline = server_context_.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

void ServerCall::OnCancel(absl::AnyInvocable<void() &&> callback) {
  {
    std::lock_guard lock(cancel_mu_);
    if (!done_) {
      on_cancel_ = std::move(callback);
      return;
    }
  }
  if (IsCancelled()) std::move(callback)();
}

void ServerCall::Unref() {
  int before = refs_.fetch_sub(1, std::memory_order_acq_rel);
  if (before <= 0) {
    spdlog::critical("grpc call {}: reference count below zero", method_.name());
    std::abort();
  }
  if (before == 1) delete this;
}

void ServerCall::Arm(absl::FunctionRef<void()> request) {
  Ref();  // done
  server_context_.AsyncNotifyWhenDone(&done_tag_);
  Ref();  // request
  if (!queue_.StartRequest(request)) {
    Unref();  // done: never comes for a call that never started
    Unref();  // request
  }
}

void ServerCall::OnRequested(bool ok, absl::FunctionRef<void()> run_handler) {
  if (!ok) {
    Unref();  // done
    Unref();  // request
    return;
  }
  absl::Status admission = Accept();
  if (admission.ok()) {
    Ref();  // held by the handler's Done or ServerWriter
    run_handler();
  } else {
    FinishWith(std::move(admission));
  }
  Unref();  // request
}

absl::Status ServerCall::Accept() {
  accepted_at_ = absl::Now();
  method_.Arm(queue_);
  if (absl::Status allowed = method_.Authorize(server_context_); !allowed.ok()) {
    // A warning at most every 10 s with a count of the rest: a flood of bad
    // tokens must not flood the log. The message never holds the token;
    // refusals are also counted per code in the metrics.
    static auth::RefusalLog* const refusals = new auth::RefusalLog();
    if (std::optional<std::string> report =
            refusals->Record(method_.name(), server_context_.peer(), allowed)) {
      spdlog::warn("{}", *report);
    } else {
      spdlog::debug("refused {} from {}: {}", method_.name(), server_context_.peer(),
                    allowed.ToString());
    }
    return allowed;
  }
  if (!method_.limiter().TryAcquire()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "server overloaded: ", method_.limiter().limit(), " calls in flight; retry with backoff"));
  }
  admitted_ = true;
  method_.metrics().CallAdmitted();
  return absl::OkStatus();
}

void ServerCall::RecordFinish(const absl::Status& status) {
  if (recorded_.exchange(true)) return;
  if (!admitted_) {
    method_.metrics().CallRejected(status.code());
    return;
  }
  method_.metrics().CallFinished(status.code(), absl::Now() - accepted_at_);
  method_.limiter().Release();
}

void ServerCall::OnDone(bool /*ok*/) {
  // IsCancelled() may only be asked once this tag has come back.
  bool cancelled = server_context_.IsCancelled();
  absl::AnyInvocable<void() &&> callback;
  {
    std::lock_guard lock(cancel_mu_);
    done_ = true;
    cancelled_.store(cancelled, std::memory_order_release);
    if (cancelled) callback = std::move(on_cancel_);
    on_cancel_ = nullptr;
  }
  if (callback) std::move(callback)();
  Unref();
}

Done& Done::operator=(Done&& other) noexcept {
  if (this != &other) {
    Release();
    call_ = std::exchange(other.call_, nullptr);
    called_ = std::exchange(other.called_, false);
  }
  return *this;
}

Done::~Done() { Release(); }

void Done::Release() {
  if (call_ == nullptr) return;
  if (!called_) {
    spdlog::error("handler of {} dropped its Done without answering", call_->method());
    call_->FinishWith(absl::InternalError("handler returned without answering"));
  }
  std::exchange(call_, nullptr)->Unref();
}

void Done::operator()(absl::Status status) {
  if (call_ == nullptr || called_) {
    std::string_view method = call_ != nullptr ? call_->method() : "(moved-from Done)";
    spdlog::error("Done called twice for {}; the second answer is ignored", method);
    metrics::Registry::Global()
        .GetCounter("grpc_server_done_misuse_total", {},
                    "Done or ServerWriter::Finish called more than once")
        .Increment();
    return;
  }
  called_ = true;
  call_->FinishWith(std::move(status));
}

}  // namespace coffer::grpc_util
