#include "common/log/level.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace coffer::log {

absl::StatusOr<spdlog::level::level_enum> ParseLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "warn") return spdlog::level::warn;
  for (int i = spdlog::level::trace; i < spdlog::level::n_levels; ++i) {
    const auto level = static_cast<spdlog::level::level_enum>(i);
    if (lower == LevelName(level)) return level;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", name, "\"; accepted: ", kLevelNames));
}

absl::string_view LevelName(spdlog::level::level_enum level) {
  const spdlog::string_view_t name = spdlog::level::to_string_view(level);
  return absl::string_view(name.data(), name.size());
}

bool AbslParseFlag(absl::string_view text, LevelFlag* flag, std::string* error) {
  absl::StatusOr<spdlog::level::level_enum> level = ParseLevel(text);
  if (!level.ok()) {
    *error = std::string(level.status().message());
    return false;
  }
  flag->level = *level;
  return true;
}

std::string AbslUnparseFlag(const LevelFlag& flag) { return std::string(LevelName(flag.level)); }

}  // namespace coffer::log
