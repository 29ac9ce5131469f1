#include "common/grpc/server_call.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <spdlog/spdlog.h>

#include "common/metrics/registry.h"

namespace coffer::grpc_util {

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
  if (Accept()) {
    Ref();  // held by the handler's Done or ServerWriter
    run_handler();
  } else {
    FinishWith(absl::ResourceExhaustedError(absl::StrCat(
        "server overloaded: ", method_.limiter().limit(), " calls in flight; retry with backoff")));
  }
  Unref();  // request
}

bool ServerCall::Accept() {
  accepted_at_ = absl::Now();
  method_.Arm(queue_);
  if (!method_.limiter().TryAcquire()) return false;
  admitted_ = true;
  method_.metrics().CallAdmitted();
  return true;
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
