// The call objects behind AsyncClient: one per outgoing call, each owning
// its ClientContext and freeing itself when its last tag has come back.
//
// Unary:   StartCall + Finish(tag) -> done(reply or status) -> freed.
// Stream:  StartCall(start tag) -> Read(read tag) ... each ok read delivers a
//          message and reads again; the first failed read (stream over,
//          cancelled) -> Finish(finish tag) -> on_done(status) -> freed.
//          One tag per operation kind, one operation in flight at a time.
#ifndef COFFER_COMMON_GRPC_CLIENT_CALLS_H_
#define COFFER_COMMON_GRPC_CLIENT_CALLS_H_

#include <memory>
#include <string_view>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/async_unary_call.h>

#include "common/grpc/client_queue.h"
#include "common/grpc/completion_tag.h"
#include "common/grpc/status_conversion.h"

namespace coffer::grpc_util {

template <typename Reply>
class ClientUnaryCall {
 public:
  using Reader = grpc::ClientAsyncResponseReader<Reply>;

  ClientUnaryCall(ClientQueue* queue, absl::AnyInvocable<void(absl::StatusOr<Reply>) &&> done)
      : queue_(queue), done_(std::move(done)), context_(std::make_shared<grpc::ClientContext>()) {}

  grpc::ClientContext* context() { return context_.get(); }
  // Shared with CallHandle so Cancel() stays safe after the call is freed.
  std::shared_ptr<grpc::ClientContext> shared_context() { return context_; }

  // Starts the call with `prepare(context, cq)`; frees itself when done.
  void Start(
      absl::FunctionRef<std::unique_ptr<Reader>(grpc::ClientContext*, grpc::CompletionQueue*)>
          prepare) {
    if (!queue_->AddCall(context_.get())) {
      auto done = std::move(done_);
      delete this;
      std::move(done)(absl::UnavailableError("client is shutting down"));
      return;
    }
    reader_ = prepare(context_.get(), queue_->cq());
    reader_->StartCall();
    reader_->Finish(&reply_, &status_, &finish_tag_);
  }

  std::string_view Describe() const { return "client unary call"; }

 private:
  void OnFinished(bool /*ok*/) {
    queue_->RemoveCall(context_.get());
    auto done = std::move(done_);
    absl::StatusOr<Reply> result =
        status_.ok() ? absl::StatusOr<Reply>(std::move(reply_)) : FromGrpcStatus(status_);
    delete this;
    std::move(done)(std::move(result));
  }

  ClientQueue* queue_;
  absl::AnyInvocable<void(absl::StatusOr<Reply>) &&> done_;
  std::shared_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Reader> reader_;
  Reply reply_;
  grpc::Status status_;
  MemberTag<ClientUnaryCall, &ClientUnaryCall::OnFinished> finish_tag_{this};
};

template <typename Reply>
class ClientStreamCall {
 public:
  using Reader = grpc::ClientAsyncReader<Reply>;

  ClientStreamCall(ClientQueue* queue, absl::AnyInvocable<void(const Reply&)> on_message,
                   absl::AnyInvocable<void(absl::Status) &&> on_done)
      : queue_(queue),
        on_message_(std::move(on_message)),
        on_done_(std::move(on_done)),
        context_(std::make_shared<grpc::ClientContext>()) {}

  grpc::ClientContext* context() { return context_.get(); }
  // Shared with CallHandle so Cancel() stays safe after the call is freed.
  std::shared_ptr<grpc::ClientContext> shared_context() { return context_; }

  void Start(
      absl::FunctionRef<std::unique_ptr<Reader>(grpc::ClientContext*, grpc::CompletionQueue*)>
          prepare) {
    if (!queue_->AddCall(context_.get())) {
      auto on_done = std::move(on_done_);
      delete this;
      std::move(on_done)(absl::UnavailableError("client is shutting down"));
      return;
    }
    reader_ = prepare(context_.get(), queue_->cq());
    reader_->StartCall(&start_tag_);
  }

  std::string_view Describe() const { return "client stream call"; }

 private:
  void OnStarted(bool ok) {
    if (!ok) {
      reader_->Finish(&status_, &finish_tag_);
      return;
    }
    reader_->Read(&message_, &read_tag_);
  }

  void OnRead(bool ok) {
    if (!ok) {
      reader_->Finish(&status_, &finish_tag_);
      return;
    }
    on_message_(message_);
    reader_->Read(&message_, &read_tag_);
  }

  void OnFinished(bool /*ok*/) {
    queue_->RemoveCall(context_.get());
    auto on_done = std::move(on_done_);
    absl::Status status = FromGrpcStatus(status_);
    delete this;
    std::move(on_done)(std::move(status));
  }

  ClientQueue* queue_;
  absl::AnyInvocable<void(const Reply&)> on_message_;
  absl::AnyInvocable<void(absl::Status) &&> on_done_;
  std::shared_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Reader> reader_;
  Reply message_;
  grpc::Status status_;
  MemberTag<ClientStreamCall, &ClientStreamCall::OnStarted> start_tag_{this};
  MemberTag<ClientStreamCall, &ClientStreamCall::OnRead> read_tag_{this};
  MemberTag<ClientStreamCall, &ClientStreamCall::OnFinished> finish_tag_{this};
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_CLIENT_CALLS_H_
