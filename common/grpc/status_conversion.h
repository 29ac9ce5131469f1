// The one pair of functions that converts between absl::Status (used inside
// coffer) and grpc::Status (used only at the edge, where calls enter and
// leave a process). The canonical codes map one-to-one.
#ifndef COFFER_COMMON_GRPC_STATUS_CONVERSION_H_
#define COFFER_COMMON_GRPC_STATUS_CONVERSION_H_

#include <string_view>

#include "absl/status/status.h"
#include <grpcpp/support/status.h>

namespace coffer::grpc_util {

[[nodiscard]] grpc::Status ToGrpcStatus(const absl::Status& status);
[[nodiscard]] absl::Status FromGrpcStatus(const grpc::Status& status);

// "OK", "NOT_FOUND", ...: the names gRPC tools print, used as metric labels.
std::string_view StatusCodeName(absl::StatusCode code);

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_STATUS_CONVERSION_H_
