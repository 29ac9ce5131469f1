#include "tools/cofferctl/metrics_command.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "tools/cofferctl/output.h"

ABSL_FLAG(std::string, filter, "",
          "Only metrics whose name starts with this prefix (grpc_server_, fetcher_, ...)");

namespace coffer::cofferctl {
namespace {

using client::Service;

struct ServiceMetrics {
  Service service;
  absl::StatusOr<v1::GetMetricsResponse> response;
};

absl::StatusOr<std::vector<Service>> ServicesOf(const std::vector<std::string>& args) {
  if (args.empty())
    return std::vector<Service>{Service::kFetcher, Service::kStorage, Service::kScheduler};
  std::vector<Service> services;
  for (const std::string& arg : args) {
    std::optional<Service> service;
    for (Service known : {Service::kFetcher, Service::kStorage, Service::kScheduler}) {
      if (arg == client::ServiceName(known)) service = known;
    }
    if (!service.has_value()) {
      return UsageError(
          absl::StrCat("\"", arg, "\" is not a service: fetcher, storage or scheduler"));
    }
    if (std::find(services.begin(), services.end(), *service) == services.end()) {
      services.push_back(*service);
    }
  }
  return services;
}

// Asks every service at once, so that one that does not answer costs one
// deadline, not one each.
std::vector<ServiceMetrics> FetchMetrics(CommandContext& ctx, const std::vector<Service>& services,
                                         const std::string& prefix) {
  v1::GetMetricsRequest request;
  request.set_name_prefix(prefix);
  std::vector<std::future<absl::StatusOr<v1::GetMetricsResponse>>> replies;
  for (Service service : services) {
    auto reply = std::make_shared<std::promise<absl::StatusOr<v1::GetMetricsResponse>>>();
    replies.push_back(reply->get_future());
    ctx.coffer.admin(service).Call(
        &v1::Admin::Stub::PrepareAsyncGetMetrics, request,
        [reply](absl::StatusOr<v1::GetMetricsResponse> response) {
          reply->set_value(std::move(response));
        },
        ctx.coffer.options());
  }
  std::vector<ServiceMetrics> results;
  for (size_t i = 0; i < services.size(); ++i) {
    absl::StatusOr<v1::GetMetricsResponse> response = replies[i].get();
    if (!response.ok()) {
      response = ctx.coffer.Annotate(services[i], response.status());
    } else if (!prefix.empty()) {
      // The per-method summary ignores name_prefix (admin.proto); a filtered
      // answer holds only the metrics asked for.
      response->clear_methods();
    }
    results.push_back({services[i], std::move(response)});
  }
  return results;
}

// 12 for 12.0, else six significant digits.
std::string FormatNumber(double value) {
  if (std::isfinite(value) && value == std::trunc(value) && std::abs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

// Milliseconds to the microsecond: "0.25ms", "12ms".
std::string FormatMs(double ms) {
  std::string text = absl::StrFormat("%.3f", ms);
  absl::string_view trimmed = absl::StripSuffix(text, ".000");
  std::string out(trimmed);
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
  }
  return out + "ms";
}

// name{key="value",...}, keys sorted.
std::string MetricName(const v1::Metric& metric) {
  if (metric.labels().empty()) return metric.name();
  std::map<std::string, std::string> labels(metric.labels().begin(), metric.labels().end());
  std::vector<std::string> parts;
  for (const auto& [key, value] : labels) parts.push_back(absl::StrCat(key, "=\"", value, "\""));
  return absl::StrCat(metric.name(), "{", absl::StrJoin(parts, ","), "}");
}

std::string MetricValue(const v1::Metric& metric) {
  if (metric.kind() != v1::Metric::HISTOGRAM) return FormatNumber(metric.value());
  const v1::LatencySummary& histogram = metric.histogram();
  if (histogram.count() == 0) return "count=0";
  return absl::StrCat("count=", histogram.count(), " sum=", FormatMs(histogram.sum_ms()),
                      " p50=", FormatMs(histogram.p50_ms()), " p99=", FormatMs(histogram.p99_ms()));
}

std::string KindName(v1::Metric::Kind kind) {
  switch (kind) {
    case v1::Metric::COUNTER:
      return "counter";
    case v1::Metric::GAUGE:
      return "gauge";
    case v1::Metric::HISTOGRAM:
      return "histogram";
    default:
      return "-";
  }
}

// A service that did not answer: UNREACHABLE when it could not be reached
// in time, ERROR when it refused.
std::string FailureName(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
                 status.code() == absl::StatusCode::kDeadlineExceeded
             ? "UNREACHABLE"
             : "ERROR";
}

std::string MetricsTable(const std::vector<ServiceMetrics>& services) {
  Table table({"SERVICE", "METRIC", "TYPE", "VALUE"});
  for (const ServiceMetrics& service : services) {
    const std::string name = client::ServiceName(service.service);
    if (!service.response.ok()) {
      table.AddRow({name, FailureName(service.response.status()), "-",
                    ErrorLine(service.response.status())});
      continue;
    }
    std::vector<std::pair<std::string, const v1::Metric*>> rows;
    for (const v1::Metric& metric : service.response->metrics()) {
      rows.emplace_back(MetricName(metric), &metric);
    }
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [metric_name, metric] : rows) {
      table.AddRow({name, metric_name, KindName(metric->kind()), MetricValue(*metric)});
    }
  }
  return table.Render();
}

// A JSON string, escaped by the JSON printer.
std::string JsonString(const std::string& text) {
  google::protobuf::Value value;
  value.set_string_value(text);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(value, &json);
  return json;
}

// A JSON object of `members` ("name": value), one per line at `indent`.
std::string JsonObject(const std::vector<std::string>& members, const std::string& indent) {
  if (members.empty()) return "{}";
  return absl::StrCat("{\n", indent, " ", absl::StrJoin(members, absl::StrCat(",\n", indent, " ")),
                      "\n", indent, "}");
}

// {"services": {"fetcher": <GetMetricsResponse>, ...},
//  "errors": {"storage": "storage at ...: ... (UNAVAILABLE)"}}
// Assembled from ToJson of each answer rather than through a Struct, which
// would print the answers' fields in no stable order. JSON strings hold no
// raw newlines, so indenting line by line is safe.
std::string MetricsJson(const std::vector<ServiceMetrics>& services) {
  std::vector<std::string> answers;
  std::vector<std::string> errors;
  for (const ServiceMetrics& service : services) {
    const std::string name = JsonString(client::ServiceName(service.service));
    if (!service.response.ok()) {
      errors.push_back(absl::StrCat(name, ": ", JsonString(ErrorLine(service.response.status()))));
      continue;
    }
    const std::string json(absl::StripTrailingAsciiWhitespace(ToJson(*service.response)));
    answers.push_back(absl::StrCat(name, ": ", absl::StrReplaceAll(json, {{"\n", "\n  "}})));
  }
  return absl::StrCat("{\n \"services\": ", JsonObject(answers, " "),
                      ",\n \"errors\": ", JsonObject(errors, " "), "\n}\n");
}

absl::Status RunMetrics(CommandContext& ctx) {
  absl::StatusOr<std::vector<Service>> services = ServicesOf(ctx.args);
  if (!services.ok()) return services.status();
  std::vector<ServiceMetrics> metrics = FetchMetrics(ctx, *services, absl::GetFlag(FLAGS_filter));
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << MetricsJson(metrics);
    // The table shows failures in its rows; a script's stderr gets them here.
    for (const ServiceMetrics& service : metrics) {
      if (!service.response.ok()) {
        ctx.err << "cofferctl metrics: " << ErrorLine(service.response.status()) << "\n";
      }
    }
  } else {
    ctx.out << MetricsTable(metrics);
  }
  for (const ServiceMetrics& service : metrics) {
    if (!service.response.ok()) ctx.exit_code = 1;
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> MetricsCommands() {
  return {{
      .words = {"metrics"},
      .arguments = "[SERVICE...]",
      .summary = "metrics of fetcher, storage and scheduler (Admin.GetMetrics)",
      .details = R"(Prints every metric the services registered (call counts, errors and latency
per method, upstream stats, pool stats, loop stats): SERVICE, METRIC with its
labels, TYPE (counter, gauge, histogram) and VALUE; a histogram shows its
count, sum, p50 and p99 in milliseconds. SERVICE is fetcher, storage or
scheduler; none: all three.

With --output json: one object, {"services": {"fetcher": GetMetricsResponse,
...}, "errors": {"storage": "why"}} (admin.proto); with --filter the
per-method summary (methods), which ignores the filter, is left out.

A service that does not answer has one row, UNREACHABLE (or ERROR when it
refused) with the reason; the others still print, and the exit status is 1.

Examples:
  cofferctl metrics
  cofferctl metrics fetcher --filter grpc_server_calls
  cofferctl metrics storage --output json)",
      .flags = {"filter"},
      .run = RunMetrics,
  }};
}

}  // namespace coffer::cofferctl
