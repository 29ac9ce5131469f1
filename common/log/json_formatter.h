// Log events as JSON lines, for collectors that index fields.
//
// One object per line:
//
//   {"ts":"2026-11-26T13:05:01.123Z","level":"info","service":"storage","thread":123,"msg":"..."}
//
// "service" is the logger's name and "thread" the OS thread id. The message is
// escaped so that every line is valid JSON whatever it holds: quotes,
// backslashes, control characters, and bytes that are not UTF-8 (upstream
// bodies quoted in errors can be anything), which become U+FFFD.
#ifndef COFFER_COMMON_LOG_JSON_FORMATTER_H_
#define COFFER_COMMON_LOG_JSON_FORMATTER_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "spdlog/common.h"
#include "spdlog/details/log_msg.h"
#include "spdlog/formatter.h"

namespace coffer::log {

// A spdlog formatter writing the JSON line above. Stateless; each sink owns
// its own clone and calls it under the sink's lock.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// Appends `text` to `out` as a JSON string literal, quotes included. Invalid
// UTF-8 is replaced byte by byte with U+FFFD.
void AppendJsonString(absl::string_view text, spdlog::memory_buf_t& out);

}  // namespace coffer::log

#endif  // COFFER_COMMON_LOG_JSON_FORMATTER_H_
