// Log events as text for people: one line per event,
//
//   2026-11-26T13:05:01.123Z I storage 4711] opened database ./data/coffer.db
//
// time in UTC, the level's initial (T D I W E C), the service (the logger's
// name), the OS thread id, then the message. Line breaks and other control
// characters inside the message are written as escapes (\n, \x1b), so one
// event is always one line: log tools can split on newlines, and text quoted
// from an upstream cannot forge a line of its own.
#ifndef COFFER_COMMON_LOG_TEXT_FORMATTER_H_
#define COFFER_COMMON_LOG_TEXT_FORMATTER_H_

#include <memory>

#include "spdlog/common.h"
#include "spdlog/details/log_msg.h"
#include "spdlog/formatter.h"

namespace coffer::log {

// A spdlog formatter writing the line above. Stateless; each sink owns its
// own clone and calls it under the sink's lock.
class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace coffer::log

#endif  // COFFER_COMMON_LOG_TEXT_FORMATTER_H_
