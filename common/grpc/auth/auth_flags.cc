#include "common/grpc/auth/auth_flags.h"

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include <spdlog/spdlog.h>

#include "common/grpc/auth/call_authorizer.h"
#include "common/grpc/auth/token_store.h"

ABSL_FLAG(std::string, auth_tokens_file, "",
          "File of bearer tokens, one per line \"ROLE TOKEN [NAME]\" (ROLE read or admin, '#' "
          "comments), reloaded when it changes; calls must then send \"authorization: Bearer "
          "<token>\". Empty: no token checks (development on loopback only)");

namespace coffer::grpc_util::auth {

absl::Status ConfigureAuthFromFlags(AsyncServer& server) {
  std::string path = absl::GetFlag(FLAGS_auth_tokens_file);
  if (path.empty()) {
    spdlog::warn(
        "no --auth_tokens_file: every call is allowed without a token "
        "(for development only)");
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<TokenStore>> tokens = TokenStore::Open(path);
  if (!tokens.ok()) {
    return absl::Status(tokens.status().code(),
                        absl::StrCat("--auth_tokens_file: ", tokens.status().message()));
  }
  spdlog::info("bearer tokens required: {} admin and {} read tokens from {}",
               (*tokens)->count(Role::kAdmin), (*tokens)->count(Role::kRead), path);
  server.SetAuthorizer(std::make_shared<const CallAuthorizer>(
      std::shared_ptr<const TokenStore>(*std::move(tokens))));
  return absl::OkStatus();
}

}  // namespace coffer::grpc_util::auth
