#include "services/fetcher/http/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace coffer::fetcher {

RetryPolicy::RetryPolicy(RetryOptions options, Random random)
    : options_(options), random_(std::move(random)) {}

bool RetryPolicy::IsRetryable(const absl::StatusOr<HttpResponse>& outcome) {
  if (!outcome.ok()) {
    const absl::StatusCode code = outcome.status().code();
    return code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kUnavailable;
  }
  return outcome->status == 429 || (outcome->status >= 500 && outcome->status <= 599);
}

absl::Duration RetryPolicy::Backoff(int retry) {
  // 2^n overflows nothing as a double; min() caps it long before it matters.
  const double ceiling_seconds =
      std::min(absl::ToDoubleSeconds(options_.max_delay),
               absl::ToDoubleSeconds(options_.base_delay) * std::exp2(std::max(0, retry)));
  const double unit = random_ ? random_() : absl::Uniform(bit_gen_, 0.0, 1.0);
  return absl::Seconds(std::clamp(unit, 0.0, 1.0) * ceiling_seconds);
}

std::optional<absl::Duration> RetryPolicy::NextDelay(const absl::StatusOr<HttpResponse>& outcome,
                                                     int attempts_made, int max_attempts,
                                                     absl::Time now, absl::Time deadline) {
  if (!IsRetryable(outcome) || attempts_made >= max_attempts) return std::nullopt;
  absl::Duration delay;
  const std::string* retry_after = outcome.ok() ? outcome->FindHeader("retry-after") : nullptr;
  std::optional<absl::Duration> asked =
      retry_after != nullptr ? ParseRetryAfter(*retry_after, now) : std::nullopt;
  if (asked.has_value()) {
    if (*asked > options_.max_retry_after) return std::nullopt;
    delay = *asked;
  } else {
    delay = Backoff(attempts_made - 1);
  }
  if (now + delay >= deadline) return std::nullopt;
  return delay;
}

std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now) {
  const absl::string_view text =
      absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size()));
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    // Ten digits is over 300 years: anything longer is simply "too long".
    if (text.size() > 10) return absl::InfiniteDuration();
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(text, &seconds)) return std::nullopt;
    return absl::Seconds(seconds);
  }
  static constexpr const char* kDateFormats[] = {
      "%a, %d %b %Y %H:%M:%S GMT",  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
      "%A, %d-%b-%y %H:%M:%S GMT",  // RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT
      "%a %b %e %H:%M:%S %Y",       // asctime:     Sun Nov  6 08:49:37 1994
  };
  const std::string input(text);
  for (const char* format : kDateFormats) {
    absl::Time when;
    std::string error;
    if (absl::ParseTime(format, input, absl::UTCTimeZone(), &when, &error)) {
      return std::max(absl::ZeroDuration(), when - now);
    }
  }
  return std::nullopt;
}

}  // namespace coffer::fetcher
