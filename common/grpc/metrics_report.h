// Turns a metrics Registry snapshot into the GetMetrics reply: one
// MethodStats per RPC method (from the grpc_server_* metrics, grouped by
// their `method` label) and every metric as it was registered.
#ifndef COFFER_COMMON_GRPC_METRICS_REPORT_H_
#define COFFER_COMMON_GRPC_METRICS_REPORT_H_

#include <string_view>

#include "coffer/v1/admin.pb.h"
#include "common/metrics/registry.h"

namespace coffer::grpc_util {

void FillMetricsResponse(const metrics::Registry& registry, std::string_view name_prefix,
                         v1::GetMetricsResponse* reply);

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_METRICS_REPORT_H_
