// The client side of bearer tokens: reading the file named by a client's
// --token_file and the metadata that carries the token.
//
//   ASSIGN_OR_RETURN(std::string token, auth::ReadBearerToken(path));
//   storage.SetDefaultMetadata({auth::BearerMetadata(token)});
#ifndef COFFER_COMMON_GRPC_AUTH_BEARER_TOKEN_H_
#define COFFER_COMMON_GRPC_AUTH_BEARER_TOKEN_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace coffer::grpc_util::auth {

// The token in `path`: its first line that is neither blank nor a '#'
// comment, without surrounding whitespace. Errors name the file, never its
// contents: unreadable, no token, or a token with whitespace inside.
[[nodiscard]] absl::StatusOr<std::string> ReadBearerToken(const std::string& path);

// {"authorization", "Bearer <token>"}: for CallOptions::metadata or
// AsyncClient::SetDefaultMetadata.
std::pair<std::string, std::string> BearerMetadata(std::string_view token);

}  // namespace coffer::grpc_util::auth

#endif  // COFFER_COMMON_GRPC_AUTH_BEARER_TOKEN_H_
