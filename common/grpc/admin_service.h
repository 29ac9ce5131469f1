// coffer.v1.Admin, served by every coffer service: metrics, status, log
// level and a ping.
#ifndef COFFER_COMMON_GRPC_ADMIN_SERVICE_H_
#define COFFER_COMMON_GRPC_ADMIN_SERVICE_H_

#include <functional>
#include <map>
#include <string>

#include "absl/time/time.h"

#include "coffer/v1/admin.grpc.pb.h"
#include "common/grpc/async_server.h"
#include "common/grpc/health_service.h"
#include "common/metrics/registry.h"

namespace coffer::grpc_util {

class AdminService {
 public:
  // Service-specific facts for GetStatus (database path, chains, lease).
  // Called on a polling thread: it must answer from memory, never block.
  using DetailsProvider = std::function<std::map<std::string, std::string>()>;

  // `server`, `health` and `registry` must outlive this.
  AdminService(std::string service_name, std::string version, const AsyncServer& server,
               const HealthService& health, metrics::Registry& registry);

  void SetDetailsProvider(DetailsProvider provider) { details_ = std::move(provider); }

  // Before server.Start().
  void Register(AsyncServer& server);

  void HandleGetMetrics(CallContext& context, const v1::GetMetricsRequest& request,
                        v1::GetMetricsResponse* reply, Done done);
  void HandleGetStatus(CallContext& context, const v1::GetStatusRequest& request,
                       v1::GetStatusResponse* reply, Done done);
  void HandleSetLogLevel(CallContext& context, const v1::SetLogLevelRequest& request,
                         v1::SetLogLevelResponse* reply, Done done);
  void HandlePing(CallContext& context, const v1::PingRequest& request, v1::PingResponse* reply,
                  Done done);

 private:
  const std::string service_name_;
  const std::string version_;
  const AsyncServer& server_;
  const HealthService& health_;
  metrics::Registry& registry_;
  const absl::Time started_at_;
  DetailsProvider details_;
  v1::Admin::AsyncService async_service_;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_ADMIN_SERVICE_H_
