// Which role each method of the coffer API needs, in one table.
//
//   std::optional<Role> needed = RequiredRole("/coffer.v1.Storage/AddAccounts");
//   // Role::kAdmin; nullopt would mean "open to callers without a token".
//
// The table lists every method of coffer.v1.Storage, Fetcher, Scheduler and
// Admin by name (the protos say the same in their service comments). A test
// walks the protobuf descriptors and fails when a method has no entry, so a
// new RPC cannot ship unclassified. grpc.health.v1 and server reflection are
// open (probes and grpcurl need no token). Any other method (one not yet in
// the table, a test service) needs admin: unknown means closed, not open.
#ifndef COFFER_COMMON_GRPC_AUTH_METHOD_ROLES_H_
#define COFFER_COMMON_GRPC_AUTH_METHOD_ROLES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/grpc/auth/role.h"

namespace coffer::grpc_util::auth {

// The coffer services whose every method the table must classify.
inline constexpr std::string_view kProtectedServices[] = {
    "coffer.v1.Storage",
    "coffer.v1.Fetcher",
    "coffer.v1.Scheduler",
    "coffer.v1.Admin",
};

// Services every caller may use without a token.
inline constexpr std::string_view kOpenServices[] = {
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
};

// The role `full_method` ("/package.Service/Method") needs, or nullopt when
// it belongs to an open service. Methods not in the table need admin.
std::optional<Role> RequiredRole(std::string_view full_method);

// The table's own entry for `full_method`, without the admin default: what
// the completeness test checks.
std::optional<Role> ClassifiedRole(std::string_view full_method);

// Every full method name in the table (for the test that finds stale rows).
std::vector<std::string> ClassifiedMethods();

}  // namespace coffer::grpc_util::auth

#endif  // COFFER_COMMON_GRPC_AUTH_METHOD_ROLES_H_
