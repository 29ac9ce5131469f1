// The server flag --auth_tokens_file, and the one call that applies it to an
// AsyncServer. Where the server is built (ServiceHost::Run):
//
//   absl::Status status = auth::ConfigureAuthFromFlags(*server_);
//   if (status.ok()) status = server_->Start();
//
// Unset, every call is allowed (development on loopback), which is logged
// as a warning. Set, every coffer method needs a token of its role
// (method_roles.h); health and reflection stay open.
#ifndef COFFER_COMMON_GRPC_AUTH_AUTH_FLAGS_H_
#define COFFER_COMMON_GRPC_AUTH_AUTH_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"

#include "common/grpc/async_server.h"

ABSL_DECLARE_FLAG(std::string, auth_tokens_file);

namespace coffer::grpc_util::auth {

// Loads --auth_tokens_file (if set) and installs its authorizer on `server`.
// Before server.Start(). Errors: the file does not load (the message names
// the file and line, never a token).
[[nodiscard]] absl::Status ConfigureAuthFromFlags(AsyncServer& server);

}  // namespace coffer::grpc_util::auth

#endif  // COFFER_COMMON_GRPC_AUTH_AUTH_FLAGS_H_
