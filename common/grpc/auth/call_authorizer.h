// CallAuthorizer: decides, before a handler runs, whether a call's bearer
// token lets it call its method.
//
//   CallAuthorizer authorizer(std::move(token_store));
//   absl::Status allowed = authorizer.Authorize(
//       "/coffer.v1.Storage/AddAccounts", RequiredRole("/coffer.v1.Storage/AddAccounts"),
//       server_context.client_metadata());
//
// The token comes as the metadata "authorization: Bearer <token>". The
// answer is OK; UNAUTHENTICATED when the token is missing, malformed or
// unknown; or PERMISSION_DENIED when it is known but its role is too weak.
// The decision depends on the method and the token alone, never on the
// request, so no answer says whether an account, task or run exists; and no
// message repeats the token.
//
// The framework (ServerCall) asks before admitting a call and answers the
// error without running the handler; AsyncServer::Options::authorizer
// turns it on (null: every call allowed, for development on loopback).
#ifndef COFFER_COMMON_GRPC_AUTH_CALL_AUTHORIZER_H_
#define COFFER_COMMON_GRPC_AUTH_CALL_AUTHORIZER_H_

#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include <grpcpp/grpcpp.h>

#include "common/grpc/auth/role.h"
#include "common/grpc/auth/token_store.h"

namespace coffer::grpc_util::auth {

// The metadata key of the token (gRPC metadata keys are lower case).
inline constexpr std::string_view kAuthorizationKey = "authorization";

class CallAuthorizer {
 public:
  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

  explicit CallAuthorizer(std::shared_ptr<const TokenStore> tokens) : tokens_(std::move(tokens)) {}

  // `needed` is RequiredRole(method), computed once per method by the
  // caller; nullopt (an open service) allows every call, token or not.
  // `method` only names the method in PERMISSION_DENIED. Any thread; does
  // not block (see TokenStore::Find).
  [[nodiscard]] absl::Status Authorize(std::string_view method, std::optional<Role> needed,
                                       const Metadata& metadata) const;

  const TokenStore& tokens() const { return *tokens_; }

 private:
  std::shared_ptr<const TokenStore> tokens_;
};

}  // namespace coffer::grpc_util::auth

#endif  // COFFER_COMMON_GRPC_AUTH_CALL_AUTHORIZER_H_
