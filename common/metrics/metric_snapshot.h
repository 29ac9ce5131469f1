#ifndef COFFER_COMMON_METRICS_METRIC_SNAPSHOT_H_
#define COFFER_COMMON_METRICS_METRIC_SNAPSHOT_H_

#include <string>
#include <utility>
#include <vector>

#include "common/metrics/histogram.h"

namespace coffer::metrics {

// Label names and values of one series, such as {{"method",
// "/coffer.v1.Admin/Ping"}}. The registry sorts them by name, so the order
// callers give does not make a different series.
using Labels = std::vector<std::pair<std::string, std::string>>;

// One series (a metric name plus one set of labels) at one moment.
struct MetricSnapshot {
  enum class Kind { kCounter, kGauge, kHistogram };

  std::string name;
  Labels labels;
  Kind kind = Kind::kCounter;
  std::string help;
  // The counter's total or the gauge's value; for a histogram, its count.
  double value = 0;
  // Set for histograms only.
  HistogramSnapshot histogram;
};

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_METRIC_SNAPSHOT_H_
