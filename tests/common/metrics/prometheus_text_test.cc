#include "common/metrics/prometheus_text.h"

#include <limits>
#include <vector>

#include "gtest/gtest.h"

#include "common/metrics/metric_snapshot.h"

namespace coffer::metrics {
namespace {

MetricSnapshot Counter(std::string name, Labels labels, double value, std::string help = "") {
  MetricSnapshot m;
  m.name = std::move(name);
  m.labels = std::move(labels);
  m.kind = MetricSnapshot::Kind::kCounter;
  m.help = std::move(help);
  m.value = value;
  return m;
}

MetricSnapshot Gauge(std::string name, Labels labels, double value, std::string help = "") {
  MetricSnapshot m = Counter(std::move(name), std::move(labels), value, std::move(help));
  m.kind = MetricSnapshot::Kind::kGauge;
  return m;
}

MetricSnapshot Summary(std::string name, Labels labels, HistogramSnapshot h,
                       std::string help = "") {
  MetricSnapshot m;
  m.name = std::move(name);
  m.labels = std::move(labels);
  m.kind = MetricSnapshot::Kind::kHistogram;
  m.help = std::move(help);
  m.value = static_cast<double>(h.count);
  m.histogram = h;
  return m;
}

TEST(PrometheusTextTest, Empty) { EXPECT_EQ(FormatPrometheusText({}), ""); }

TEST(PrometheusTextTest, CounterGetsTotalSuffixAndTypeOncePerFamily) {
  const std::vector<MetricSnapshot> metrics = {
      Counter("rpc_calls", {{"method", "A"}}, 3, "Calls by method."),
      Counter("rpc_calls", {{"method", "B"}}, 4, "Calls by method."),
      Counter("bytes_total", {}, 1024),
  };
  EXPECT_EQ(FormatPrometheusText(metrics),
            "# TYPE bytes_total counter\n"
            "bytes_total 1024\n"
            "# HELP rpc_calls_total Calls by method.\n"
            "# TYPE rpc_calls_total counter\n"
            "rpc_calls_total{method=\"A\"} 3\n"
            "rpc_calls_total{method=\"B\"} 4\n");
}

TEST(PrometheusTextTest, Gauge) {
  EXPECT_EQ(FormatPrometheusText({Gauge("in_flight", {{"pool", "read"}, {"shard", "1"}}, -2.5,
                                        "Calls started and not finished.")}),
            "# HELP in_flight Calls started and not finished.\n"
            "# TYPE in_flight gauge\n"
            "in_flight{pool=\"read\",shard=\"1\"} -2.5\n");
}

TEST(PrometheusTextTest, HistogramIsASummaryWithQuantiles) {
  HistogramSnapshot h;
  h.count = 12;
  h.sum = 0.0015;
  h.p50 = 0.0001;
  h.p90 = 0.0002;
  h.p99 = 0.0004;
  h.max = 0.0005;
  EXPECT_EQ(FormatPrometheusText({Summary("rpc_latency_seconds",
                                          {{"method", "/coffer.v1.Admin/Ping"}}, h, "Latency.")}),
            "# HELP rpc_latency_seconds Latency.\n"
            "# TYPE rpc_latency_seconds summary\n"
            "rpc_latency_seconds{method=\"/coffer.v1.Admin/Ping\",quantile=\"0.5\"} "
            "0.0001\n"
            "rpc_latency_seconds{method=\"/coffer.v1.Admin/Ping\",quantile=\"0.9\"} "
            "0.0002\n"
            "rpc_latency_seconds{method=\"/coffer.v1.Admin/Ping\",quantile=\"0.99\"} "
            "0.0004\n"
            "rpc_latency_seconds_sum{method=\"/coffer.v1.Admin/Ping\"} 0.0015\n"
            "rpc_latency_seconds_count{method=\"/coffer.v1.Admin/Ping\"} 12\n");
}

TEST(PrometheusTextTest, EmptyHistogramHasNaNQuantiles) {
  EXPECT_EQ(FormatPrometheusText({Summary("wait_seconds", {}, {})}),
            "# TYPE wait_seconds summary\n"
            "wait_seconds{quantile=\"0.5\"} NaN\n"
            "wait_seconds{quantile=\"0.9\"} NaN\n"
            "wait_seconds{quantile=\"0.99\"} NaN\n"
            "wait_seconds_sum 0\n"
            "wait_seconds_count 0\n");
}

TEST(PrometheusTextTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(FormatPrometheusText({Gauge("g", {{"path", "C:\\dir \"x\"\nnext"}}, 1,
                                        "Help with \\ backslash, \"quotes\" and\nnewline.")}),
            "# HELP g Help with \\\\ backslash, \"quotes\" and\\nnewline.\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n");
}

TEST(PrometheusTextTest, SanitizesNames) {
  EXPECT_EQ(SanitizeMetricName("coffer.fetcher-requests:rate"), "coffer_fetcher_requests:rate");
  EXPECT_EQ(SanitizeMetricName("9lives"), "_lives");
  EXPECT_EQ(SanitizeMetricName(""), "_");
  EXPECT_EQ(SanitizeLabelName("upstream:host"), "upstream_host");
  EXPECT_EQ(FormatPrometheusText({Gauge("a.b", {{"c-d", "v"}}, 1)}),
            "# TYPE a_b gauge\n"
            "a_b{c_d=\"v\"} 1\n");
}

TEST(PrometheusTextTest, FormatsSpecialValues) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(42), "42");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(0.0001), "0.0001");
  EXPECT_EQ(FormatSampleValue(1e-6), "1e-06");
  EXPECT_EQ(FormatSampleValue(1'500'000), "1500000");
  EXPECT_EQ(FormatSampleValue(-3), "-3");
  EXPECT_EQ(FormatSampleValue(1e20), "1e+20");
  EXPECT_EQ(FormatSampleValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(PrometheusTextTest, GroupsFamiliesWhateverTheInputOrder) {
  const std::vector<MetricSnapshot> metrics = {
      Gauge("b", {{"k", "1"}}, 1),
      Gauge("a", {}, 2),
      Gauge("b", {{"k", "2"}}, 3, "Help from a later series."),
  };
  EXPECT_EQ(FormatPrometheusText(metrics),
            "# TYPE a gauge\n"
            "a 2\n"
            "# HELP b Help from a later series.\n"
            "# TYPE b gauge\n"
            "b{k=\"1\"} 1\n"
            "b{k=\"2\"} 3\n");
}

}  // namespace
}  // namespace coffer::metrics
