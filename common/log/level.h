// Log level names, and the flag type that accepts them.
//
// One vocabulary for levels everywhere an operator types one: --log_level,
// COFFER_LOG_LEVEL and the admin API's SetLogLevel all go through ParseLevel,
// so they accept the same names and reject a typo with the same message
// instead of spdlog's habit of reading an unknown name as "off".
#ifndef COFFER_COMMON_LOG_LEVEL_H_
#define COFFER_COMMON_LOG_LEVEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "spdlog/common.h"

namespace coffer::log {

// The canonical names, most verbose first, as listed in error messages.
inline constexpr absl::string_view kLevelNames =
    "trace, debug, info, warning, error, critical, off";

// Parses a level name, ignoring case; "warn" is accepted for "warning".
// INVALID_ARGUMENT naming the accepted levels for anything else.
[[nodiscard]] absl::StatusOr<spdlog::level::level_enum> ParseLevel(absl::string_view name);

// The canonical name of `level` ("warning", not "warn").
absl::string_view LevelName(spdlog::level::level_enum level);

// The value type of --log_level. A distinct type lets Abseil reject a bad
// level while parsing flags (and environment fallbacks), with the flag's name
// in the message, rather than at logger setup.
struct LevelFlag {
  spdlog::level::level_enum level = spdlog::level::info;
};

// Abseil's flag hooks, found by argument-dependent lookup.
bool AbslParseFlag(absl::string_view text, LevelFlag* flag, std::string* error);
std::string AbslUnparseFlag(const LevelFlag& flag);

}  // namespace coffer::log

#endif  // COFFER_COMMON_LOG_LEVEL_H_
