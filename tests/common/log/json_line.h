// Test helper: one JSON log line as a LogEvent message.
#ifndef COFFER_TESTS_COMMON_LOG_JSON_LINE_H_
#define COFFER_TESTS_COMMON_LOG_JSON_LINE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "testdata/log_event.pb.h"

namespace coffer::log {

// Parses `line`, which must be one JSON object with exactly LogEvent's keys,
// ending in a single '\n' with no other line break. INVALID_ARGUMENT if not.
absl::StatusOr<coffer::test::log::LogEvent> ParseJsonLine(absl::string_view line);

}  // namespace coffer::log

#endif  // COFFER_TESTS_COMMON_LOG_JSON_LINE_H_
