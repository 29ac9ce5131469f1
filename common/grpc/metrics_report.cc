#include "common/grpc/metrics_report.h"

#include <map>
#include <string>

namespace coffer::grpc_util {
namespace {

std::string LabelValue(const metrics::Labels& labels, std::string_view key) {
  for (const auto& [name, value] : labels) {
    if (name == key) return value;
  }
  return "";
}

void FillLatency(const metrics::HistogramSnapshot& histogram, v1::LatencySummary* out) {
  constexpr double kMs = 1000.0;
  out->set_count(histogram.count);
  out->set_sum_ms(histogram.sum * kMs);
  out->set_p50_ms(histogram.p50 * kMs);
  out->set_p90_ms(histogram.p90 * kMs);
  out->set_p99_ms(histogram.p99 * kMs);
  out->set_max_ms(histogram.max * kMs);
}

v1::Metric::Kind KindOf(metrics::MetricSnapshot::Kind kind) {
  switch (kind) {
    case metrics::MetricSnapshot::Kind::kCounter:
      return v1::Metric::COUNTER;
    case metrics::MetricSnapshot::Kind::kGauge:
      return v1::Metric::GAUGE;
    case metrics::MetricSnapshot::Kind::kHistogram:
      return v1::Metric::HISTOGRAM;
  }
  return v1::Metric::KIND_UNSPECIFIED;
}

}  // namespace

void FillMetricsResponse(const metrics::Registry& registry, std::string_view name_prefix,
                         v1::GetMetricsResponse* reply) {
  std::map<std::string, v1::MethodStats> methods;
  for (const metrics::MetricSnapshot& metric : registry.Snapshot()) {
    std::string method = LabelValue(metric.labels, "method");
    if (!method.empty() && metric.name.rfind("grpc_server_", 0) == 0) {
      v1::MethodStats& stats = methods[method];
      stats.set_method(method);
      if (metric.name == "grpc_server_calls_total") {
        stats.set_calls(static_cast<uint64_t>(metric.value));
      } else if (metric.name == "grpc_server_errors_total") {
        (*stats.mutable_errors_by_code())[LabelValue(metric.labels, "code")] =
            static_cast<uint64_t>(metric.value);
      } else if (metric.name == "grpc_server_latency_seconds") {
        FillLatency(metric.histogram, stats.mutable_latency());
      } else if (metric.name == "grpc_server_in_flight") {
        stats.set_in_flight(static_cast<int64_t>(metric.value));
      }
    }
    if (metric.name.rfind(name_prefix, 0) != 0) continue;
    v1::Metric* out = reply->add_metrics();
    out->set_name(metric.name);
    for (const auto& [key, value] : metric.labels) (*out->mutable_labels())[key] = value;
    out->set_kind(KindOf(metric.kind));
    out->set_help(metric.help);
    if (metric.kind == metrics::MetricSnapshot::Kind::kHistogram) {
      FillLatency(metric.histogram, out->mutable_histogram());
    } else {
      out->set_value(metric.value);
    }
  }
  for (auto& [name, stats] : methods) *reply->add_methods() = std::move(stats);
}

}  // namespace coffer::grpc_util
