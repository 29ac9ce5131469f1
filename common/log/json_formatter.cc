#include "common/log/json_formatter.h"

#include <cstddef>
#include <iterator>

#include "fmt/format.h"

#include "common/log/level.h"
#include "common/log/timestamp.h"

namespace coffer::log {
namespace {

void Append(absl::string_view text, spdlog::memory_buf_t& out) {
  out.append(text.data(), text.data() + text.size());
}

bool InRange(unsigned char byte, unsigned char low, unsigned char high) {
  return byte >= low && byte <= high;
}

// The length of the well-formed UTF-8 sequence starting at text[i] (2 to 4),
// or 0 if there is none there. Follows the table of well-formed byte
// sequences in the Unicode standard (section 3.9), which excludes overlong
// forms, surrogates and code points past U+10FFFF.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const size_t left = text.size() - i;
  const unsigned char lead = byte(0);
  if (InRange(lead, 0xC2, 0xDF)) {
    return left >= 2 && InRange(byte(1), 0x80, 0xBF) ? 2 : 0;
  }
  if (InRange(lead, 0xE0, 0xEF)) {
    const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned char high = lead == 0xED ? 0x9F : 0xBF;
    return left >= 3 && InRange(byte(1), low, high) && InRange(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (InRange(lead, 0xF0, 0xF4)) {
    const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
    return left >= 4 && InRange(byte(1), low, high) && InRange(byte(2), 0x80, 0xBF) &&
                   InRange(byte(3), 0x80, 0xBF)
               ? 4
               : 0;
  }
  return 0;
}

// JSON's two-character escape for an ASCII character, or "" if it has none.
absl::string_view ShortEscape(unsigned char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return "";
  }
}

}  // namespace

void AppendJsonString(absl::string_view text, spdlog::memory_buf_t& out) {
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        Append("\\ufffd", out);
        ++i;
      } else {
        Append(text.substr(i, length), out);
        i += length;
      }
      continue;
    }
    const absl::string_view escape = ShortEscape(c);
    if (!escape.empty()) {
      Append(escape, out);
    } else if (c < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  out.push_back('"');
}

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  Append("{\"ts\":\"", dest);
  AppendUtcTimestamp(msg.time, dest);
  Append("\",\"level\":", dest);
  AppendJsonString(LevelName(msg.level), dest);
  Append(",\"service\":", dest);
  AppendJsonString(absl::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
  fmt::format_to(std::back_inserter(dest), ",\"thread\":{},\"msg\":", msg.thread_id);
  AppendJsonString(absl::string_view(msg.payload.data(), msg.payload.size()), dest);
  Append("}\n", dest);
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

}  // namespace coffer::log
