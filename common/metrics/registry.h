#ifndef COFFER_COMMON_METRICS_REGISTRY_H_
#define COFFER_COMMON_METRICS_REGISTRY_H_

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"

#include "common/metrics/counter.h"
#include "common/metrics/gauge.h"
#include "common/metrics/histogram.h"
#include "common/metrics/metric_snapshot.h"

namespace coffer::metrics {

// Owns every metric of a process (or of a test) and reports them all.
//
// Look a metric up once, where its owner is built, and keep the reference:
// Get* takes a lock and allocates, while updating the metric itself is
// lock-free.
//
//   class StorageService {
//     metrics::Counter& writes_ = metrics::Registry::Global().GetCounter(
//         "storage_writes", {}, "Snapshots written.");
//   };
//
// A metric is one name plus one set of labels; the same pair always returns
// the same object, which lives as long as the registry. A name has one kind:
// asking for a gauge under a counter's name is a programming error and aborts
// the process with a message naming the metric. The first non-empty help
// given for a name is kept. Thread-safe.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry that services export. Never destroyed, so
  // metrics may be updated by threads that outlive main.
  static Registry& Global();

  Counter& GetCounter(std::string_view name, const Labels& labels = {}, std::string_view help = "");
  Gauge& GetGauge(std::string_view name, const Labels& labels = {}, std::string_view help = "");
  Histogram& GetHistogram(std::string_view name, const Labels& labels = {},
                          std::string_view help = "");

  // Every metric whose name starts with `name_prefix`, sorted by name, then
  // labels (themselves sorted by label name).
  std::vector<MetricSnapshot> Snapshot(std::string_view name_prefix = "") const;

  // Snapshot() in the Prometheus text exposition format 0.0.4; see
  // prometheus_text.h.
  std::string PrometheusText() const;

 private:
  using Kind = MetricSnapshot::Kind;
  // Alternatives in the order of MetricSnapshot::Kind.
  using Metric = std::variant<Counter, Gauge, Histogram>;

  // What every series of one name shares.
  struct Family {
    Kind kind;
    std::string help;
  };

  template <typename T>
  T& GetOrCreate(Kind kind, std::string_view name, const Labels& labels, std::string_view help);

  // std::mutex rather than absl::Mutex: see common/exec/condition_wait.h on
  // ThreadSanitizer and Debian's Abseil.
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  // std::map: nodes never move, which keeps handed-out references valid,
  // and iteration order is the snapshot order.
  std::map<std::pair<std::string, Labels>, Metric> metrics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::metrics

#endif  // COFFER_COMMON_METRICS_REGISTRY_H_
