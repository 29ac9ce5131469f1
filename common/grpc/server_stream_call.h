// The call object of a server-streaming RPC, and the ServerWriter its
// handler writes through.
//
// Lifecycle:
//
//   ARMED      NotifyWhenDone + Request<Method>. refs: request, done.
//     | request ok == false: never started; drop both refs (grpc#10136).
//     v request ok == true
//   ACCEPTED   re-arm; check the bearer token or Finish UNAUTHENTICATED /
//     |        PERMISSION_DENIED; take an in-flight slot or Finish
//     |        RESOURCE_EXHAUSTED.
//     v
//   STREAMING  handler(context, request, ServerWriter). Write() may be called
//     |        from any thread; gRPC allows one outstanding Write per stream
//     |        (grpc#7659), so later messages wait in `pending_` and the
//     |        write tag starts the next one. A failed write (client gone)
//     |        drops what is pending and makes later Writes return false.
//     v ServerWriter::Finish(status)
//   FINISHING  once the pending writes are out: Finish(status).
//     v finish and done tags back
//   freed
#ifndef COFFER_COMMON_GRPC_SERVER_STREAM_CALL_H_
#define COFFER_COMMON_GRPC_SERVER_STREAM_CALL_H_

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "common/grpc/server_call.h"
#include "common/grpc/status_conversion.h"

namespace coffer::grpc_util {

template <typename Request, typename Reply>
class ServerStreamCall;

// A streaming handler's end of the call. Move-only; may be kept (in a
// shared_ptr, say) and used from any thread. Finish exactly once: a second
// Finish is caught like a second Done; dropping the writer unfinished
// answers INTERNAL.
template <typename Reply>
class ServerWriter {
 public:
  class Stream {
   public:
    virtual bool Write(Reply message) = 0;
    virtual bool Idle() = 0;
    virtual void OnIdle(std::function<void()> callback) = 0;
    virtual ServerCall& call() = 0;

   protected:
    ~Stream() = default;
  };

  explicit ServerWriter(Stream* stream) : stream_(stream) {}
  ServerWriter(ServerWriter&& other) noexcept
      : stream_(std::exchange(other.stream_, nullptr)), done_(std::move(other.done_)) {}
  ServerWriter& operator=(ServerWriter&&) = delete;
  ServerWriter(const ServerWriter&) = delete;

  // Queues `message`; false once the client is gone or Finish was called.
  bool Write(Reply message) { return stream_ != nullptr && stream_->Write(std::move(message)); }

  // No message is being written or waits to be: what a writer that pulls
  // from a source of its own (and lets that source merge or drop what piles
  // up) checks before it takes more. False once the client is gone.
  bool Idle() { return stream_ != nullptr && stream_->Idle(); }

  // `callback` runs each time the last queued message has been written and
  // nothing waits (on a polling thread, outside every lock of the call;
  // never after Finish); it must not block.
  void OnIdle(std::function<void()> callback) {
    if (stream_ != nullptr) stream_->OnIdle(std::move(callback));
  }

  // Ends the stream with `status` after the messages already written.
  void Finish(absl::Status status) { done_(std::move(status)); }

  CallContext& context() { return stream_->call(); }

 private:
  Stream* stream_;
  Done done_{stream_ != nullptr ? &stream_->call() : nullptr};
};

template <typename Request, typename Reply>
class ServerStreamingMethod final : public MethodBase {
 public:
  using RequestFn =
      std::function<void(grpc::ServerContext*, Request*, grpc::ServerAsyncWriter<Reply>*,
                         grpc::ServerCompletionQueue*, void* tag)>;
  using Handler = std::function<void(CallContext&, const Request&, ServerWriter<Reply>)>;

  ServerStreamingMethod(std::string name, InFlightLimiter& limiter, metrics::Registry& registry,
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
class ServerStreamCall final : public ServerCall, private ServerWriter<Reply>::Stream {
 public:
  ServerStreamCall(ServerStreamingMethod<Request, Reply>& method, ServerQueue& queue)
      : ServerCall(method, queue), stream_method_(method), writer_(&server_context_) {}

  void Arm() {
    ServerCall::Arm([this] {
      stream_method_.request()(&server_context_, &request_, &writer_, queue_.cq(), &request_tag_);
    });
  }

  void FinishWith(absl::Status status) override {
    RecordFinish(status);
    std::lock_guard lock(mu_);
    finish_status_ = std::move(status);
    if (!write_in_flight_) StartFinishLocked();
  }

 private:
  bool Write(Reply message) override {
    std::lock_guard lock(mu_);
    if (broken_ || finish_status_.has_value()) return false;
    if (write_in_flight_) {
      pending_.push_back(std::move(message));
      return true;
    }
    return StartWriteLocked(std::move(message));
  }

  bool Idle() override {
    std::lock_guard lock(mu_);
    return !broken_ && !finish_status_.has_value() && !write_in_flight_ && pending_.empty();
  }

  void OnIdle(std::function<void()> callback) override {
    std::lock_guard lock(mu_);
    on_idle_ = std::move(callback);
  }

  ServerCall& call() override { return *this; }

  // Starts one Write; the caller still holds a reference (the writer's, or
  // the completed write's), so no Unref here can free the call.
  bool StartWriteLocked(Reply message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(message);
    write_in_flight_ = true;
    Ref();
    bool started = queue_.StartOp([this] { writer_.Write(current_, &write_tag_); });
    if (!started) {
      write_in_flight_ = false;
      broken_ = true;
      pending_.clear();
      Unref();
    }
    return started;
  }

  void StartFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_started_) return;
    finish_started_ = true;
    Ref();
    bool started =
        queue_.StartOp([this] { writer_.Finish(ToGrpcStatus(*finish_status_), &finish_tag_); });
    if (!started) Unref();
  }

  void OnRequested(bool ok) {
    ServerCall::OnRequested(
        ok, [this] { stream_method_.handler()(*this, request_, ServerWriter<Reply>(this)); });
  }

  void OnWritten(bool ok) {
    std::function<void()> on_idle;
    {
      std::lock_guard lock(mu_);
      write_in_flight_ = false;
      if (!ok) {
        broken_ = true;
        pending_.clear();
      }
      if (!pending_.empty()) {
        Reply next = std::move(pending_.front());
        pending_.pop_front();
        StartWriteLocked(std::move(next));
      }
      if (!write_in_flight_ && finish_status_.has_value()) StartFinishLocked();
      if (!write_in_flight_ && !broken_ && !finish_status_.has_value()) on_idle = on_idle_;
    }
    if (on_idle) on_idle();
    Unref();
  }

  void OnFinished(bool /*ok*/) { Unref(); }

  ServerStreamingMethod<Request, Reply>& stream_method_;
  Request request_;
  grpc::ServerAsyncWriter<Reply> writer_;

  std::mutex mu_;
  Reply current_ ABSL_GUARDED_BY(mu_);
  std::deque<Reply> pending_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  bool finish_started_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> on_idle_ ABSL_GUARDED_BY(mu_);

  MemberTag<ServerStreamCall, &ServerStreamCall::OnRequested> request_tag_{this};
  MemberTag<ServerStreamCall, &ServerStreamCall::OnWritten> write_tag_{this};
  MemberTag<ServerStreamCall, &ServerStreamCall::OnFinished> finish_tag_{this};
};

template <typename Request, typename Reply>
void ServerStreamingMethod<Request, Reply>::Arm(ServerQueue& queue) {
  (new ServerStreamCall<Request, Reply>(*this, queue))->Arm();
}

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_SERVER_STREAM_CALL_H_
