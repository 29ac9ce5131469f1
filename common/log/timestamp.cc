#include "common/log/timestamp.h"

#include <chrono>
#include <ctime>
#include <iterator>

#include "fmt/format.h"

namespace coffer::log {

void AppendUtcTimestamp(spdlog::log_clock::time_point time, spdlog::memory_buf_t& out) {
  // Floor, not truncate, so times before 1970 keep a millisecond in [0, 999].
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time - seconds);
  const std::time_t epoch_seconds = spdlog::log_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&epoch_seconds, &utc);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                 utc.tm_sec, millis.count());
}

}  // namespace coffer::log
