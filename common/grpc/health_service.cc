#include "common/grpc/health_service.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace coffer::grpc_util {

using grpc::health::v1::Health;

HealthService::HealthService(std::vector<std::string> services) {
  own_.push_back("");
  for (auto& service : services) own_.push_back(std::move(service));
  for (const std::string& service : own_) statuses_[service] = HealthCheckResponse::NOT_SERVING;
}

void HealthService::Register(AsyncServer& server) {
  server.RegisterService(&async_service_);
  COFFER_GRPC_UNARY(server, async_service_, Health, Check, this);
  COFFER_GRPC_SERVER_STREAMING(server, async_service_, Health, Watch, this);
  server.AddShutdownListener([this] { OnShutdown(); });
}

void HealthService::SetServing(bool serving) {
  std::unique_lock lock(mu_);
  if (shutting_down_) return;
  for (const std::string& service : own_) {
    statuses_[service] = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }
  NotifyWatchersLocked();
}

void HealthService::SetServing(std::string_view service, bool serving) {
  std::unique_lock lock(mu_);
  if (shutting_down_) return;
  statuses_[std::string(service)] =
      serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  NotifyWatchersLocked();
}

bool HealthService::IsServing(std::string_view service) const {
  std::shared_lock lock(mu_);
  return StatusOfLocked(service) == HealthCheckResponse::SERVING;
}

HealthService::ServingStatus HealthService::StatusOfLocked(std::string_view service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::HandleCheck(CallContext& /*context*/, const HealthCheckRequest& request,
                                HealthCheckResponse* reply, Done done) {
  ServingStatus status;
  {
    std::shared_lock lock(mu_);
    status = StatusOfLocked(request.service());
  }
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    done(absl::NotFoundError(absl::StrCat("unknown service \"", request.service(), "\"")));
    return;
  }
  reply->set_status(status);
  done(absl::OkStatus());
}

void HealthService::HandleWatch(CallContext& context, const HealthCheckRequest& request,
                                ServerWriter<HealthCheckResponse> writer) {
  uint64_t id;
  {
    std::unique_lock lock(mu_);
    id = next_watcher_id_++;
  }
  // The client hanging up is the normal way a watch ends. Registered while
  // this handler still holds the writer (so the call is alive), and outside
  // the lock, since it runs at once if the call is already cancelled.
  context.OnCancel([this, id] {
    std::unique_ptr<ServerWriter<HealthCheckResponse>> writer;
    {
      std::unique_lock lock(mu_);
      auto it = watchers_.find(id);
      if (it == watchers_.end()) return;
      writer = std::move(it->second.writer);
      watchers_.erase(it);
    }
    writer->Finish(absl::CancelledError("watch cancelled"));
  });
  std::unique_lock lock(mu_);
  if (shutting_down_) {
    writer.Finish(absl::UnavailableError("server shutting down"));
    return;
  }
  if (context.IsCancelled()) {
    writer.Finish(absl::CancelledError("watch cancelled"));
    return;
  }
  Watcher& watcher = watchers_[id];
  watcher.service = request.service();
  watcher.last_sent = StatusOfLocked(request.service());
  watcher.writer = std::make_unique<ServerWriter<HealthCheckResponse>>(std::move(writer));
  HealthCheckResponse first;
  first.set_status(watcher.last_sent);
  watcher.writer->Write(first);
}

void HealthService::NotifyWatchersLocked() {
  for (auto& [id, watcher] : watchers_) {
    ServingStatus now = StatusOfLocked(watcher.service);
    if (now == watcher.last_sent) continue;
    watcher.last_sent = now;
    HealthCheckResponse update;
    update.set_status(now);
    watcher.writer->Write(update);
  }
}

void HealthService::OnShutdown() {
  std::map<uint64_t, Watcher> watchers;
  {
    std::unique_lock lock(mu_);
    for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
    NotifyWatchersLocked();
    shutting_down_ = true;
    watchers.swap(watchers_);
  }
  for (auto& [id, watcher] : watchers) {
    watcher.writer->Finish(absl::UnavailableError("server shutting down"));
  }
}

}  // namespace coffer::grpc_util
