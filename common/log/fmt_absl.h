// Lets spdlog and fmt print Abseil's string_view and Status.
//
// Debian builds Abseil with its own absl::string_view class rather than an
// alias of std::string_view, and fmt knows neither it nor absl::Status, so
// without this header `spdlog::error("write failed: {}", status)` and
// `spdlog::info("{}", status.message())` do not compile. Include it wherever
// such values are logged.
//
//   spdlog::warn("fetch {} failed: {}", account_id, status);
//   // -> fetch eip155:1:0xAb... failed: UNAVAILABLE: connection refused
#ifndef COFFER_COMMON_LOG_FMT_ABSL_H_
#define COFFER_COMMON_LOG_FMT_ABSL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"

// Formats like a string, honouring width and alignment ("{:>20}").
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view text, FormatContext& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(text.data(), text.size()),
                                                    ctx);
  }
};

// Formats as absl::Status::ToString(): "OK", or "CODE: message".
template <>
struct fmt::formatter<absl::Status> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(const absl::Status& status, FormatContext& ctx) const -> decltype(ctx.out()) {
    const std::string text = status.ToString();
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(text), ctx);
  }
};

#endif  // COFFER_COMMON_LOG_FMT_ABSL_H_
