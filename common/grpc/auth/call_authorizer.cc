#include "common/grpc/auth/call_authorizer.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace coffer::grpc_util::auth {
namespace {

constexpr absl::string_view kScheme = "bearer";

// One message for every bad token: it must not help anyone tell a
// malformed token from a revoked or a mistyped one.
absl::Status InvalidToken() {
  return absl::UnauthenticatedError(
      "invalid bearer token (metadata \"authorization: Bearer <token>\")");
}

}  // namespace

absl::Status CallAuthorizer::Authorize(std::string_view method, std::optional<Role> needed,
                                       const Metadata& metadata) const {
  if (!needed.has_value()) return absl::OkStatus();
  auto [begin, end] =
      metadata.equal_range(grpc::string_ref(kAuthorizationKey.data(), kAuthorizationKey.size()));
  if (begin == end) {
    return absl::UnauthenticatedError(
        "this method needs a bearer token (metadata \"authorization: Bearer <token>\")");
  }
  // Two tokens: which one counts would be up to proxies; refuse instead.
  if (std::next(begin) != end) return InvalidToken();
  // Abseil's string_view (Debian's is not std::string_view) for its helpers.
  absl::string_view value(begin->second.data(), begin->second.size());
  // RFC 6750: the scheme is case-insensitive, one space, then the token.
  if (value.size() <= kScheme.size() + 1 ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      value[kScheme.size()] != ' ') {
    return InvalidToken();
  }
  absl::string_view token = absl::StripAsciiWhitespace(value.substr(kScheme.size() + 1));
  if (token.empty()) return InvalidToken();
  std::optional<TokenStore::Identity> identity =
      tokens_->Find(std::string_view(token.data(), token.size()));
  if (!identity.has_value()) return InvalidToken();
  if (!Grants(identity->role, *needed)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the ", std::string(RoleName(identity->role)), " role may not call ", std::string(method),
        "; it needs the ", std::string(RoleName(*needed)), " role"));
  }
  return absl::OkStatus();
}

}  // namespace coffer::grpc_util::auth
