#include "tools/cofferctl/output.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "common/chain/amount.h"

namespace coffer::cofferctl {

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> widths(columns_.size(), 0);
  for (size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = columns_[c].title.size();
    for (const auto& row : rows_) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string text;
  auto append_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const bool last = c + 1 == columns_.size();
      const size_t pad = widths[c] - cells[c].size();
      if (columns_[c].align == Align::kRight) {
        line.append(pad, ' ');
        line += cells[c];
      } else {
        line += cells[c];
        if (!last) line.append(pad, ' ');
      }
      if (!last) line += "  ";
    }
    absl::StripTrailingAsciiWhitespace(&line);
    absl::StrAppend(&text, line, "\n");
  };
  std::vector<std::string> titles;
  for (const Column& column : columns_) titles.push_back(column.title);
  append_row(titles);
  for (const auto& row : rows_) append_row(row);
  return text;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only a malformed message (an Any of an unknown type) gets here; the
    // document says so in valid JSON.
    google::protobuf::Struct error;
    (*error.mutable_fields())["error"].set_string_value(
        absl::StrCat("cannot print as JSON: ", status.message().ToString()));
    json.clear();
    (void)google::protobuf::util::MessageToJsonString(error, &json, options);
  }
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

std::string FormatAmount(absl::string_view units, uint32_t decimals) {
  absl::StatusOr<std::string> text = chain::FormatUnits(units, decimals);
  if (!text.ok()) return absl::StrCat("? (", text.status().message(), ")");
  return *text;
}

std::string FormatAmount(const v1::Amount& amount) {
  return FormatAmount(amount.units(), amount.decimals());
}

std::string DescribeError(const v1::Error& error) {
  std::string text = absl::StrCat(v1::Error::Code_Name(error.code()), ": ", error.message());
  if (!error.upstream().empty()) absl::StrAppend(&text, " (", error.upstream(), ")");
  return text;
}

std::string ErrorLine(const absl::Status& status) {
  return absl::StrCat(status.message(), " (", absl::StatusCodeToString(status.code()), ")");
}

std::string FormatAbslTime(absl::Time time) {
  if (time == absl::UnixEpoch() || time == absl::InfinitePast()) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return FormatAbslTime(absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos()));
}

std::string FormatAbslDuration(absl::Duration duration) {
  if (duration == absl::ZeroDuration()) return "-";
  // Below a second, milliseconds; above, whole seconds: the rest is noise
  // in a table.
  if (absl::AbsDuration(duration) >= absl::Seconds(1)) {
    duration = absl::Trunc(duration, absl::Seconds(1));
  } else {
    duration = absl::Trunc(duration, absl::Milliseconds(1));
  }
  std::string text = absl::FormatDuration(duration);
  // absl prints "1h30m0s"; trailing zero units say nothing.
  if (absl::EndsWith(text, "m0s")) text.resize(text.size() - 2);
  if (absl::EndsWith(text, "h0m")) text.resize(text.size() - 2);
  return text;
}

std::string FormatDuration(const google::protobuf::Duration& duration) {
  return FormatAbslDuration(absl::Seconds(duration.seconds()) +
                            absl::Nanoseconds(duration.nanos()));
}

absl::StatusOr<absl::Time> ParseTimeArgument(absl::string_view text, absl::Time now) {
  const std::string input(absl::StripAsciiWhitespace(text));
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, input, &time, &error)) return time;
  if (absl::ParseTime("%Y-%m-%d", input, absl::UTCTimeZone(), &time, &error)) return time;
  absl::string_view age = input;
  if (absl::ConsumeSuffix(&age, "d")) {
    int64_t days = 0;
    if (absl::SimpleAtoi(age, &days) && days >= 0) return now - absl::Hours(24 * days);
  } else {
    absl::Duration duration;
    if (absl::ParseDuration(input, &duration) && duration >= absl::ZeroDuration()) {
      return now - duration;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", input,
                   "\" is not a time: use RFC 3339 (2026-11-01T12:00:00Z), a date (2026-11-01) "
                   "or an age (24h, 90m, 7d)"));
}

}  // namespace coffer::cofferctl
