#include "tools/cofferctl/status_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

namespace coffer::cofferctl {
namespace {

std::string Uptime(const v1::GetStatusResponse& status) {
  int64_t seconds = status.uptime().seconds();
  return absl::FormatDuration(absl::Seconds(seconds));
}

}  // namespace

std::string StatusTable(const std::vector<ServiceStatus>& services) {
  std::vector<std::vector<std::string>> rows = {
      {"SERVICE", "ADDRESS", "HEALTH", "VERSION", "UPTIME", "IN-FLIGHT", "NOTE"}};
  for (const ServiceStatus& service : services) {
    std::vector<std::string> row = {service.name, service.address, service.health};
    if (service.status.has_value()) {
      row.push_back(service.status->version());
      row.push_back(Uptime(*service.status));
      row.push_back(absl::StrCat(service.status->in_flight_calls()));
      row.push_back(service.status->debug_mode() ? "debug mode" : "");
    } else {
      row.insert(row.end(), {"-", "-", "-", service.error});
    }
    rows.push_back(std::move(row));
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string StatusJson(const std::vector<ServiceStatus>& services) {
  std::vector<std::string> entries;
  for (const ServiceStatus& service : services) {
    std::string status_json = "null";
    if (service.status.has_value()) {
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      status_json.clear();
      if (!google::protobuf::util::MessageToJsonString(*service.status, &status_json, options)
               .ok()) {
        status_json = "null";
      }
    }
    // Names, addresses, health values and gRPC error strings are quoted
    // through the JSON printer's own escaping by wrapping them in a Value.
    google::protobuf::Value error;
    error.set_string_value(service.error);
    std::string error_json;
    (void)google::protobuf::util::MessageToJsonString(error, &error_json);
    entries.push_back(absl::StrCat("{\"name\":\"", service.name, "\",\"address\":\"",
                                   service.address, "\",\"health\":\"", service.health,
                                   "\",\"status\":", status_json, ",\"error\":", error_json, "}"));
  }
  return absl::StrCat("{\"services\":[", absl::StrJoin(entries, ","), "]}\n");
}

}  // namespace coffer::cofferctl
