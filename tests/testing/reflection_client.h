// The services a server lists through gRPC server reflection, asked the way
// grpcurl asks: a bidirectional stream on a plain stub (coffer's own client
// has no bidirectional calls, and reflection is not a coffer API).
#ifndef COFFER_TESTS_TESTING_REFLECTION_CLIENT_H_
#define COFFER_TESTS_TESTING_REFLECTION_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <grpcpp/grpcpp.h>

namespace coffer::testing {

// The names `channel`'s server lists; an error when the stream could not be
// written, answered nothing, or did not finish OK (10 s deadline).
absl::StatusOr<std::vector<std::string>> ReflectedServices(
    const std::shared_ptr<grpc::Channel>& channel);

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_REFLECTION_CLIENT_H_
