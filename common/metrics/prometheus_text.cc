#include "common/metrics/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

// Strings are joined with std::string rather than absl::StrCat: Debian's
// Abseil has its own absl::string_view, which std::string_view does not
// convert to.

namespace coffer::metrics {
namespace {

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

std::string SanitizeName(std::string_view name, bool allow_colon) {
  if (name.empty()) return "_";
  std::string result(name);
  for (size_t i = 0; i < result.size(); ++i) {
    const char c = result[i];
    const bool valid =
        IsAsciiLetter(c) || c == '_' || (allow_colon && c == ':') || (i > 0 && IsAsciiDigit(c));
    if (!valid) result[i] = '_';
  }
  return result;
}

// The exposed name of a family: counters carry the conventional suffix.
std::string FamilyName(const MetricSnapshot& metric) {
  std::string name = SanitizeMetricName(metric.name);
  if (metric.kind == MetricSnapshot::Kind::kCounter && !name.ends_with("_total")) {
    name += "_total";
  }
  return name;
}

std::string_view TypeName(MetricSnapshot::Kind kind) {
  switch (kind) {
    case MetricSnapshot::Kind::kCounter:
      return "counter";
    case MetricSnapshot::Kind::kGauge:
      return "gauge";
    case MetricSnapshot::Kind::kHistogram:
      return "summary";
  }
  return "untyped";
}

// {name="value",...} from `labels` plus an optional extra label appended
// last; empty when there are none.
std::string FormatLabels(const Labels& labels, std::string_view extra_name = "",
                         std::string_view extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto append = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    out += SanitizeLabelName(name);
    out += "=\"";
    out += EscapeLabelValue(value);
    out += '"';
    first = false;
  };
  for (const auto& [name, value] : labels) append(name, value);
  if (!extra_name.empty()) append(extra_name, extra_value);
  out.push_back('}');
  return out;
}

void AppendSample(std::string* out, std::string_view name, std::string_view labels, double value) {
  out->append(name).append(labels).append(" ");
  out->append(FormatSampleValue(value)).append("\n");
}

void AppendSeries(std::string* out, const std::string& family, const MetricSnapshot& metric) {
  if (metric.kind != MetricSnapshot::Kind::kHistogram) {
    AppendSample(out, family, FormatLabels(metric.labels), metric.value);
    return;
  }
  const HistogramSnapshot& h = metric.histogram;
  // Prometheus's own clients report an empty summary's quantiles as NaN:
  // zero would claim calls that took no time.
  const bool empty = h.count == 0;
  const std::pair<std::string_view, double> quantiles[] = {
      {"0.5", h.p50}, {"0.9", h.p90}, {"0.99", h.p99}};
  for (const auto& [quantile, value] : quantiles) {
    AppendSample(out, family, FormatLabels(metric.labels, "quantile", quantile),
                 empty ? std::nan("") : value);
  }
  const std::string labels = FormatLabels(metric.labels);
  AppendSample(out, family + "_sum", labels, h.sum);
  AppendSample(out, family + "_count", labels, static_cast<double>(h.count));
}

}  // namespace

std::string SanitizeMetricName(std::string_view name) {
  return SanitizeName(name, /*allow_colon=*/true);
}

std::string SanitizeLabelName(std::string_view name) {
  return SanitizeName(name, /*allow_colon=*/false);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  // Whole numbers (every counter) print in full: 1500000, not 1.5e+06.
  if (value == std::trunc(value) && std::abs(value) < 1e15) {
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), static_cast<int64_t>(value));
    return std::string(buffer, result.ptr);
  }
  // Otherwise the shortest text that reads back as the same double, as
  // printf's %g would lay it out: 0.0001, 1e-06.
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::general);
  return std::string(buffer, result.ptr);
}

std::string FormatPrometheusText(absl::Span<const MetricSnapshot> metrics) {
  // Family name -> its series in input order. Grouping here rather than
  // trusting the input order keeps HELP and TYPE to one line per family.
  std::map<std::string, std::vector<const MetricSnapshot*>> families;
  for (const MetricSnapshot& metric : metrics) {
    families[FamilyName(metric)].push_back(&metric);
  }
  std::string out;
  for (const auto& [family, series] : families) {
    const auto with_help = std::find_if(series.begin(), series.end(),
                                        [](const MetricSnapshot* m) { return !m->help.empty(); });
    if (with_help != series.end()) {
      out.append("# HELP ").append(family).append(" ");
      out.append(EscapeHelp((*with_help)->help)).append("\n");
    }
    out.append("# TYPE ").append(family).append(" ");
    out.append(TypeName(series.front()->kind)).append("\n");
    for (const MetricSnapshot* metric : series) {
      AppendSeries(&out, family, *metric);
    }
  }
  return out;
}

}  // namespace coffer::metrics
