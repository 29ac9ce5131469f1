#include "common/log/text_formatter.h"

#include <iterator>

#include "absl/strings/string_view.h"
#include "fmt/format.h"

#include "common/log/timestamp.h"

namespace coffer::log {
namespace {

void Append(absl::string_view text, spdlog::memory_buf_t& out) {
  out.append(text.data(), text.data() + text.size());
}

// Copies `message`, writing control characters (which would break the line
// or drive the terminal) as C escapes. Tabs stay: they are harmless and
// common in quoted text.
void AppendOneLine(absl::string_view message, spdlog::memory_buf_t& out) {
  for (const char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out.push_back(ch);
    } else if (c == '\t') {
      out.push_back(ch);
    } else if (c == '\n') {
      Append("\\n", out);
    } else if (c == '\r') {
      Append("\\r", out);
    } else {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
    }
  }
}

}  // namespace

void TextFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  AppendUtcTimestamp(msg.time, dest);
  dest.push_back(' ');
  Append(spdlog::level::to_short_c_str(msg.level), dest);
  dest.push_back(' ');
  Append(absl::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
  fmt::format_to(std::back_inserter(dest), " {}] ", msg.thread_id);
  AppendOneLine(absl::string_view(msg.payload.data(), msg.payload.size()), dest);
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> TextFormatter::clone() const {
  return std::make_unique<TextFormatter>();
}

}  // namespace coffer::log
