#include "common/grpc/async_server.h"

#include <algorithm>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <spdlog/spdlog.h>

#include "common/grpc/message_size.h"

namespace coffer::grpc_util {
namespace {

// A duration as a channel argument's milliseconds (an int), at least 1.
int MillisecondsArgument(absl::Duration duration) {
  const int64_t ms = absl::ToInt64Milliseconds(duration);
  return static_cast<int>(std::clamp<int64_t>(ms, 1, std::numeric_limits<int>::max()));
}

}  // namespace

AsyncServer::AsyncServer(Options options)
    : options_(std::move(options)), limiter_(options_.max_in_flight_calls) {
  if (options_.debug) {
    detector_ =
        std::make_unique<SlowHandlerDetector>(options_.slow_handler_threshold, *options_.registry);
  }
}

AsyncServer::~AsyncServer() { Shutdown(absl::ZeroDuration()); }

void AsyncServer::RegisterService(grpc::Service* service) { services_.push_back(service); }

void AsyncServer::AddShutdownListener(std::function<void()> listener) {
  shutdown_listeners_.push_back(std::move(listener));
}

absl::Status AsyncServer::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return absl::FailedPreconditionError("server already started");
    started_ = true;
  }
  if (options_.calls_armed_per_method < 1) {
    return absl::InvalidArgumentError("calls_armed_per_method: must be at least 1");
  }
  if (options_.max_in_flight_calls < 1) {
    return absl::InvalidArgumentError("max_in_flight_calls: must be at least 1");
  }
  int queue_count = options_.completion_queues;
  if (queue_count <= 0) queue_count = std::max(1u, std::thread::hardware_concurrency());

  if (options_.enable_reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this, two servers could bind the same port (SO_REUSEPORT) and
  // silently share its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  if (options_.max_connection_age != absl::InfiniteDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               MillisecondsArgument(options_.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               MillisecondsArgument(options_.max_connection_age_grace));
  }
  auto credentials =
      options_.credentials ? options_.credentials : grpc::InsecureServerCredentials();
  builder.AddListeningPort(options_.listen_address, credentials, &port_);
  const bool health_port = !options_.health_listen_address.empty();
  if (health_port) {
    builder.AddListeningPort(options_.health_listen_address, grpc::InsecureServerCredentials(),
                             &health_port_);
  }
  for (grpc::Service* service : services_) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  for (int i = 0; i < queue_count; ++i) cqs.push_back(builder.AddCompletionQueue());

  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0 || (health_port && health_port_ == 0)) {
    server_.reset();
    for (auto& cq : cqs) {
      cq->Shutdown();
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) {
      }
    }
    return absl::UnavailableError(
        absl::StrCat("could not listen on ", options_.listen_address,
                     health_port ? absl::StrCat(" and ", options_.health_listen_address) : "",
                     " (address in use, or not a valid HOST:PORT)"));
  }
  for (int i = 0; i < queue_count; ++i) {
    queues_.push_back(std::make_unique<ServerQueue>(std::move(cqs[i]), i, detector_.get()));
  }
  for (auto& method : methods_) {
    method->SetAuthorizer(options_.authorizer.get(), /*tls_only=*/health_port);
  }
  for (auto& queue : queues_) {
    for (auto& method : methods_) {
      for (int i = 0; i < options_.calls_armed_per_method; ++i) method->Arm(*queue);
    }
  }
  for (auto& queue : queues_) queue->StartPolling();
  spdlog::info("serving on {} (port {}) with {} completion queues, {} methods{}{}",
               options_.listen_address, port_, queue_count, methods_.size(),
               options_.authorizer ? ", bearer tokens required" : ", no token checks",
               options_.debug ? ", debug mode on" : "");
  return absl::OkStatus();
}

uint64_t AsyncServer::slow_handlers() const {
  return detector_ != nullptr ? detector_->slow_handlers() : 0;
}

void AsyncServer::Shutdown(absl::Duration grace) {
  {
    std::lock_guard lock(mu_);
    if (shutting_down_ || !started_) {
      if (!started_) shut_down_ = true;
      return;
    }
    shutting_down_ = true;
  }
  absl::Time began = absl::Now();
  for (auto& listener : shutdown_listeners_) listener();
  for (auto& queue : queues_) queue->StopAccepting();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  }
  for (auto& queue : queues_) queue->Shutdown();
  for (auto& queue : queues_) queue->Join();
  spdlog::info("server on port {} stopped in {}", port_, absl::FormatDuration(absl::Now() - began));
  std::lock_guard lock(mu_);
  shut_down_ = true;
  shut_down_cv_.notify_all();
}

void AsyncServer::WaitForShutdown() {
  std::unique_lock lock(mu_);
  shut_down_cv_.wait(lock, [this] { return shut_down_; });
}

}  // namespace coffer::grpc_util
