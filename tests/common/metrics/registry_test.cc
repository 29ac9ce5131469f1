#include "common/metrics/registry.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace coffer::metrics {
namespace {

using Kind = MetricSnapshot::Kind;

TEST(RegistryTest, SameNameAndLabelsReturnSameObject) {
  Registry registry;
  Counter& a = registry.GetCounter("calls", {{"method", "A"}});
  Counter& again = registry.GetCounter("calls", {{"method", "A"}});
  Counter& b = registry.GetCounter("calls", {{"method", "B"}});
  Counter& unlabeled = registry.GetCounter("calls");
  EXPECT_EQ(&a, &again);
  EXPECT_NE(&a, &b);
  EXPECT_NE(&a, &unlabeled);
  EXPECT_EQ(&registry.GetGauge("depth"), &registry.GetGauge("depth"));
  EXPECT_EQ(&registry.GetHistogram("latency"), &registry.GetHistogram("latency"));
}

TEST(RegistryTest, LabelOrderDoesNotMatter) {
  Registry registry;
  Gauge& ab = registry.GetGauge("g", {{"a", "1"}, {"b", "2"}});
  Gauge& ba = registry.GetGauge("g", {{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(&ab, &ba);
}

TEST(RegistryTest, ReferencesStayValidAsMetricsAreAdded) {
  Registry registry;
  Counter& first = registry.GetCounter("first");
  first.Increment(7);
  for (int i = 0; i < 1000; ++i) {
    registry.GetCounter("many", {{"i", std::to_string(i)}});
  }
  EXPECT_EQ(&first, &registry.GetCounter("first"));
  EXPECT_EQ(first.Value(), 7u);
}

TEST(RegistryTest, SnapshotIsSortedAndCarriesValues) {
  Registry registry;
  registry.GetGauge("zeta", {}, "Last.").Set(1.5);
  registry.GetCounter("alpha", {{"k", "2"}}, "First.").Increment(2);
  registry.GetCounter("alpha", {{"k", "1"}}).Increment(1);
  registry.GetHistogram("mid_seconds").Record(absl::Milliseconds(5));

  const std::vector<MetricSnapshot> snapshot = registry.Snapshot();
  ASSERT_EQ(snapshot.size(), 4u);
  EXPECT_EQ(snapshot[0].name, "alpha");
  EXPECT_EQ(snapshot[0].labels, (Labels{{"k", "1"}}));
  EXPECT_EQ(snapshot[0].kind, Kind::kCounter);
  EXPECT_EQ(snapshot[0].value, 1);
  // Help given for any series of a name applies to the whole name.
  EXPECT_EQ(snapshot[0].help, "First.");
  EXPECT_EQ(snapshot[1].labels, (Labels{{"k", "2"}}));
  EXPECT_EQ(snapshot[1].value, 2);
  EXPECT_EQ(snapshot[2].name, "mid_seconds");
  EXPECT_EQ(snapshot[2].kind, Kind::kHistogram);
  EXPECT_EQ(snapshot[2].histogram.count, 1u);
  EXPECT_DOUBLE_EQ(snapshot[2].histogram.max, 0.005);
  EXPECT_EQ(snapshot[3].name, "zeta");
  EXPECT_EQ(snapshot[3].kind, Kind::kGauge);
  EXPECT_EQ(snapshot[3].value, 1.5);
  EXPECT_EQ(snapshot[3].help, "Last.");
}

TEST(RegistryTest, SnapshotFiltersByPrefix) {
  Registry registry;
  registry.GetCounter("fetcher_requests");
  registry.GetCounter("fetcher_errors", {{"upstream", "esplora"}});
  registry.GetGauge("storage_pool_size");
  registry.GetGauge("fetch");  // shorter than the prefix, sorts before it

  std::vector<std::string> names;
  for (const MetricSnapshot& m : registry.Snapshot("fetcher_")) {
    names.push_back(m.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"fetcher_errors", "fetcher_requests"}));
  EXPECT_TRUE(registry.Snapshot("nothing").empty());
  EXPECT_EQ(registry.Snapshot().size(), 4u);
}

TEST(RegistryTest, PrometheusTextCoversEveryMetric) {
  Registry registry;
  registry.GetCounter("calls", {{"method", "Ping"}}, "Calls.").Increment(3);
  registry.GetGauge("up").Set(1);
  const std::string text = registry.PrometheusText();
  EXPECT_EQ(text,
            "# HELP calls_total Calls.\n"
            "# TYPE calls_total counter\n"
            "calls_total{method=\"Ping\"} 3\n"
            "# TYPE up gauge\n"
            "up 1\n");
}

TEST(RegistryTest, ConcurrentLookupsAgree) {
  Registry registry;
  std::vector<std::thread> threads;
  std::vector<Counter*> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, &seen, t] {
      for (int i = 0; i < 1000; ++i) {
        Counter& c = registry.GetCounter("shared", {{"k", "v"}});
        c.Increment();
        seen[t] = &c;
        (void)registry.Snapshot();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (Counter* c : seen) EXPECT_EQ(c, seen[0]);
  EXPECT_EQ(seen[0]->Value(), 4000u);
}

TEST(RegistryTest, GlobalIsOneRegistry) { EXPECT_EQ(&Registry::Global(), &Registry::Global()); }

TEST(RegistryDeathTest, KindConflictAborts) {
  Registry registry;
  registry.GetCounter("thing");
  EXPECT_DEATH(registry.GetGauge("thing", {{"other", "labels"}}),
               "thing registered as a counter, requested as a gauge");
}

}  // namespace
}  // namespace coffer::metrics
