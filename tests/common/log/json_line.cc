#include "tests/common/log/json_line.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace coffer::log {

absl::StatusOr<coffer::test::log::LogEvent> ParseJsonLine(absl::string_view line) {
  if (!absl::EndsWith(line, "\n")) return absl::InvalidArgumentError("line does not end in \\n");
  const absl::string_view body = line.substr(0, line.size() - 1);
  if (absl::StrContains(body, '\n')) return absl::InvalidArgumentError("more than one line");
  coffer::test::log::LogEvent event;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(body), &event);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON log line: ", status.ToString(), ": ", body));
  }
  return event;
}

}  // namespace coffer::log
