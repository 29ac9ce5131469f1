// How cofferctl prints: aligned tables for people, one JSON document for
// scripts, and the formatting both share (exact amounts, times, durations).
//
//   Table table({"ACCOUNT", "ASSET", {"BALANCE", Align::kRight}});
//   table.AddRow({id, asset, FormatAmount(amount)});
//   ctx.out << table.Render();
//   ctx.out << ToJson(response);   // the API's own message, proto JSON
//
// The JSON document is the proto3 JSON form of an API message (field names
// as in the .proto, every field present even when default), so scripts get
// the schema the API documents and it stays stable as the CLI's tables change.
#ifndef COFFER_TOOLS_COFFERCTL_OUTPUT_H_
#define COFFER_TOOLS_COFFERCTL_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include "coffer/v1/common.pb.h"

namespace coffer::cofferctl {

enum class Align { kLeft, kRight };

struct Column {
  Column(const char* title) : title(title) {}  // NOLINT: {"NAME", ...} lists
  Column(std::string title, Align align) : title(std::move(title)), align(align) {}
  std::string title;
  Align align = Align::kLeft;
};

// Columns separated by two spaces, each as wide as its widest cell; the
// last column is not padded. A table with no rows prints its header alone.
class Table {
 public:
  explicit Table(std::vector<Column> columns);
  // Missing cells are empty; extra cells are a bug (dropped).
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Proto JSON of `message`, indented (protobuf indents by one space), ending
// in a newline.
std::string ToJson(const google::protobuf::Message& message);

// "1.5" for units 15 and decimals 1: exact, no trailing fractional zeros;
// "?" with the reason for a malformed amount (never thrown away silently).
std::string FormatAmount(const v1::Amount& amount);
std::string FormatAmount(absl::string_view units, uint32_t decimals);

// "UNAVAILABLE: every endpoint failed (mainnet-1)": an item's error, its
// code, message and upstream.
std::string DescribeError(const v1::Error& error);

// A failed call in one line: "storage at 127.0.0.1:50052: accounts[0]...
// (INVALID_ARGUMENT)", its message then its code.
std::string ErrorLine(const absl::Status& status);

// RFC 3339 in UTC to the second ("2026-11-27T08:00:00Z"); "-" when unset
// (a zero Timestamp).
// (The absl::Time and absl::Duration forms have their own names: Abseil's
// FormatTime/FormatDuration would make unqualified calls ambiguous.)
std::string FormatTime(const google::protobuf::Timestamp& time);
std::string FormatAbslTime(absl::Time time);
// "5m", "1h30m", "250ms"; "-" when zero.
std::string FormatDuration(const google::protobuf::Duration& duration);
std::string FormatAbslDuration(absl::Duration duration);

// A time on the command line: RFC 3339 ("2026-11-01T00:00:00Z"), a date
// ("2026-11-01", midnight UTC) or an age before `now` ("24h", "7d", "90m").
absl::StatusOr<absl::Time> ParseTimeArgument(absl::string_view text, absl::Time now);

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_OUTPUT_H_
