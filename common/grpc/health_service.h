// grpc.health.v1.Health on the async framework: Check and Watch.
//
// Every service starts NOT_SERVING and says when it is ready (its database
// open, its upstreams configured). The overall status is the empty service
// name; each coffer service also has its own name ("coffer.v1.Storage").
// At shutdown everything turns NOT_SERVING first, watchers are told, and
// their streams end, so load balancers stop sending before the server stops.
#ifndef COFFER_COMMON_GRPC_HEALTH_SERVICE_H_
#define COFFER_COMMON_GRPC_HEALTH_SERVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include "common/grpc/async_server.h"

namespace coffer::grpc_util {

class HealthService {
 public:
  using HealthCheckRequest = grpc::health::v1::HealthCheckRequest;
  using HealthCheckResponse = grpc::health::v1::HealthCheckResponse;

  // `services` are the names Check and Watch know besides "" (overall).
  explicit HealthService(std::vector<std::string> services = {});

  // Registers Check and Watch and a shutdown listener that turns everything
  // NOT_SERVING and ends the watches. Before server.Start().
  void Register(AsyncServer& server);

  // Sets the overall status and that of every service named at
  // construction; names set only through the overload below (a dependency's
  // status, say) keep theirs. Any thread.
  void SetServing(bool serving);
  // Sets one name's status ("" is the overall one). Any thread.
  void SetServing(std::string_view service, bool serving);
  bool IsServing(std::string_view service = "") const;

  void HandleCheck(CallContext& context, const HealthCheckRequest& request,
                   HealthCheckResponse* reply, Done done);
  void HandleWatch(CallContext& context, const HealthCheckRequest& request,
                   ServerWriter<HealthCheckResponse> writer);

 private:
  using ServingStatus = HealthCheckResponse::ServingStatus;
  struct Watcher {
    std::string service;
    std::unique_ptr<ServerWriter<HealthCheckResponse>> writer;
    ServingStatus last_sent;
  };

  ServingStatus StatusOfLocked(std::string_view service) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void NotifyWatchersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnShutdown();

  // "" and the constructor's names: what SetServing(bool) sets.
  std::vector<std::string> own_;
  grpc::health::v1::Health::AsyncService async_service_;
  mutable std::shared_mutex mu_;
  std::map<std::string, ServingStatus, std::less<>> statuses_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watcher_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_HEALTH_SERVICE_H_
