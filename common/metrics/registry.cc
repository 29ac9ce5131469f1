#include "common/metrics/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/metrics/prometheus_text.h"

namespace coffer::metrics {
namespace {

std::string_view KindName(MetricSnapshot::Kind kind) {
  switch (kind) {
    case MetricSnapshot::Kind::kCounter:
      return "counter";
    case MetricSnapshot::Kind::kGauge:
      return "gauge";
    case MetricSnapshot::Kind::kHistogram:
      return "histogram";
  }
  return "unknown";
}

Labels SortedByName(Labels labels) {
  std::stable_sort(labels.begin(), labels.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return labels;
}

}  // namespace

Registry& Registry::Global() {
  static Registry* const global = new Registry();
  return *global;
}

Counter& Registry::GetCounter(std::string_view name, const Labels& labels, std::string_view help) {
  return GetOrCreate<Counter>(Kind::kCounter, name, labels, help);
}

Gauge& Registry::GetGauge(std::string_view name, const Labels& labels, std::string_view help) {
  return GetOrCreate<Gauge>(Kind::kGauge, name, labels, help);
}

Histogram& Registry::GetHistogram(std::string_view name, const Labels& labels,
                                  std::string_view help) {
  return GetOrCreate<Histogram>(Kind::kHistogram, name, labels, help);
}

template <typename T>
T& Registry::GetOrCreate(Kind kind, std::string_view name, const Labels& labels,
                         std::string_view help) {
  std::pair<std::string, Labels> key(std::string(name), SortedByName(labels));
  std::lock_guard<std::mutex> lock(mu_);
  auto family = families_.find(name);
  if (family == families_.end()) {
    family = families_.emplace(std::string(name), Family{kind, ""}).first;
  } else if (family->second.kind != kind) {
    // Two parts of the program disagree on what a metric is: a bug that a
    // test run shows at once, and that exporting cannot represent.
    std::fprintf(stderr, "metric %s registered as a %s, requested as a %s\n", key.first.c_str(),
                 KindName(family->second.kind).data(), KindName(kind).data());
    std::abort();
  }
  if (family->second.help.empty()) family->second.help = std::string(help);
  auto it = metrics_.find(key);
  if (it == metrics_.end()) {
    // Constructed in place: metrics hold atomics and cannot move.
    it = metrics_
             .emplace(std::piecewise_construct, std::forward_as_tuple(std::move(key)),
                      std::forward_as_tuple(std::in_place_type<T>))
             .first;
  }
  return std::get<T>(it->second);
}

std::vector<MetricSnapshot> Registry::Snapshot(std::string_view name_prefix) const {
  std::vector<MetricSnapshot> snapshots;
  std::lock_guard<std::mutex> lock(mu_);
  // Names sharing the prefix are contiguous in the sorted map.
  for (auto it = metrics_.lower_bound({std::string(name_prefix), Labels()});
       it != metrics_.end() && it->first.first.starts_with(name_prefix); ++it) {
    const auto& [name, labels] = it->first;
    const Family& family = families_.find(name)->second;
    MetricSnapshot& snapshot = snapshots.emplace_back();
    snapshot.name = name;
    snapshot.labels = labels;
    snapshot.kind = family.kind;
    snapshot.help = family.help;
    if (const auto* counter = std::get_if<Counter>(&it->second)) {
      snapshot.value = static_cast<double>(counter->Value());
    } else if (const auto* gauge = std::get_if<Gauge>(&it->second)) {
      snapshot.value = gauge->Value();
    } else {
      snapshot.histogram = std::get<Histogram>(it->second).Snapshot();
      snapshot.value = static_cast<double>(snapshot.histogram.count);
    }
  }
  return snapshots;
}

std::string Registry::PrometheusText() const { return FormatPrometheusText(Snapshot()); }

}  // namespace coffer::metrics
