// The timestamp on every log line: UTC, RFC 3339 with milliseconds,
// "2026-11-26T13:05:01.123Z". UTC because the services run in containers on
// hosts in any zone, and lines from three services must sort together.
#ifndef COFFER_COMMON_LOG_TIMESTAMP_H_
#define COFFER_COMMON_LOG_TIMESTAMP_H_

#include "spdlog/common.h"

namespace coffer::log {

// Appends `time` to `out` as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters).
void AppendUtcTimestamp(spdlog::log_clock::time_point time, spdlog::memory_buf_t& out);

}  // namespace coffer::log

#endif  // COFFER_COMMON_LOG_TIMESTAMP_H_
