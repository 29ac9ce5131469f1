// Small early-return helpers for absl::Status and absl::StatusOr.
//
// Debian's Abseil (20220623) predates Abseil's own status macros, so coffer
// keeps these two. They evaluate their argument once.
//
//   absl::Status Load() {
//     RETURN_IF_ERROR(Open());
//     ASSIGN_OR_RETURN(Config config, Parse(text));
//     ...
//   }
#ifndef COFFER_COMMON_STATUS_STATUS_MACROS_H_
#define COFFER_COMMON_STATUS_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define COFFER_STATUS_CONCAT_INNER_(a, b) a##b
#define COFFER_STATUS_CONCAT_(a, b) COFFER_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the current function when it is not OK.
#define RETURN_IF_ERROR(expr)                                         \
  do {                                                                \
    if (absl::Status coffer_status_ = (expr); !coffer_status_.ok()) { \
      return coffer_status_;                                          \
    }                                                                 \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK,
// otherwise moves its value into `lhs` (a declaration or an lvalue).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  COFFER_ASSIGN_OR_RETURN_IMPL_(COFFER_STATUS_CONCAT_(coffer_statusor_, __LINE__), lhs, rexpr)

#define COFFER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) {                                     \
    return std::move(statusor).status();                    \
  }                                                         \
  lhs = std::move(statusor).value()

#endif  // COFFER_COMMON_STATUS_STATUS_MACROS_H_
