// The roles a bearer token grants, and which role satisfies which.
//
// Two roles (issue 8): read (balances, portfolio, history, prices, listings,
// status) and admin (everything). admin includes read, so a method's needs
// are one role and a token grants one role.
#ifndef COFFER_COMMON_GRPC_AUTH_ROLE_H_
#define COFFER_COMMON_GRPC_AUTH_ROLE_H_

#include <optional>
#include <string_view>

namespace coffer::grpc_util::auth {

enum class Role { kRead, kAdmin };

// "read" or "admin": the spelling of the tokens file and of error messages.
constexpr std::string_view RoleName(Role role) { return role == Role::kAdmin ? "admin" : "read"; }

// The inverse of RoleName; nullopt for anything else (case matters, so a
// file has one spelling).
constexpr std::optional<Role> ParseRole(std::string_view name) {
  if (name == "read") return Role::kRead;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

// Whether a token holding `held` may call a method that needs `needed`.
constexpr bool Grants(Role held, Role needed) {
  return held == Role::kAdmin || needed == Role::kRead;
}

}  // namespace coffer::grpc_util::auth

#endif  // COFFER_COMMON_GRPC_AUTH_ROLE_H_
