#ifndef COFFER_COMMON_METRICS_PROMETHEUS_TEXT_H_
#define COFFER_COMMON_METRICS_PROMETHEUS_TEXT_H_

#include <string>
#include <string_view>

#include "absl/types/span.h"

#include "common/metrics/metric_snapshot.h"

namespace coffer::metrics {

// Renders `metrics` in the Prometheus text exposition format, version 0.0.4
// (Content-Type "text/plain; version=0.0.4"), one family per metric name with
// its HELP and TYPE lines once:
//
//   # HELP rpc_calls_total Calls by method.
//   # TYPE rpc_calls_total counter
//   rpc_calls_total{method="/coffer.v1.Admin/Ping"} 12
//   # TYPE rpc_latency_seconds summary
//   rpc_latency_seconds{method="/coffer.v1.Admin/Ping",quantile="0.5"} 0.0001
//   rpc_latency_seconds{method="/coffer.v1.Admin/Ping",quantile="0.9"} 0.0002
//   rpc_latency_seconds{method="/coffer.v1.Admin/Ping",quantile="0.99"} 0.0004
//   rpc_latency_seconds_sum{method="/coffer.v1.Admin/Ping"} 0.0015
//   rpc_latency_seconds_count{method="/coffer.v1.Admin/Ping"} 12
//
// Counters get a "_total" suffix unless their name has one; histograms are
// exposed as summaries (quantiles 0.5, 0.9 and 0.99 are NaN while empty).
// Families appear in name order, series in their given order; input in any
// order is grouped correctly. Metric and label names are made valid by
// replacing disallowed characters with '_'.
std::string FormatPrometheusText(absl::Span<const MetricSnapshot> metrics);

// `name` with every character Prometheus does not allow in a metric name
// ([a-zA-Z_:][a-zA-Z0-9_:]*) replaced by '_'; "_" when empty.
std::string SanitizeMetricName(std::string_view name);

// The same for label names, which may not contain ':'.
std::string SanitizeLabelName(std::string_view name);

// `value` escaped for a quoted label value: backslash, double quote and
// newline become \\, \" and \n.
std::string EscapeLabelValue(std::string_view value);

// `text` escaped for a HELP line: backslash and newline become \\ and \n.
std::string EscapeHelp(std::string_view text);

// A sample value as Prometheus parses it: whole numbers in full, others as
// the shortest decimal that reads back exactly, "NaN", "+Inf" or "-Inf".
std::string FormatSampleValue(double value);

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_PROMETHEUS_TEXT_H_
