#include "common/metrics/http_exporter.h"

#include <httplib.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/metrics/registry.h"

namespace coffer::metrics {
namespace {

std::unique_ptr<httplib::Client> ClientFor(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  // Generous: a loaded machine must not make this flaky.
  client->set_connection_timeout(30);
  client->set_read_timeout(30);
  return client;
}

TEST(HttpExporterTest, ServesPrometheusTextOnAFreePort) {
  Registry registry;
  registry.GetCounter("scrape_test", {{"kind", "a\"b"}}, "A test counter.").Increment(5);
  HttpExporter exporter(registry);
  EXPECT_EQ(exporter.port(), 0);
  ASSERT_TRUE(exporter.Start("127.0.0.1", 0).ok());
  ASSERT_GT(exporter.port(), 0);

  auto client = ClientFor(exporter.port());
  httplib::Result result = client->Get("/metrics");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, registry.PrometheusText());
  EXPECT_TRUE(absl::StrContains(result->body, "scrape_test_total{kind=\"a\\\"b\"} 5\n"));
  EXPECT_TRUE(
      absl::StartsWith(result->get_header_value("Content-Type"), "text/plain; version=0.0.4"));

  // Later scrapes see later values.
  registry.GetCounter("scrape_test", {{"kind", "a\"b"}}).Increment();
  result = client->Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_TRUE(absl::StrContains(result->body, "} 6\n"));

  result = client->Get("/other");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 404);

  exporter.Stop();
  EXPECT_EQ(exporter.port(), 0);
  client = ClientFor(exporter.port());
  EXPECT_FALSE(client->Get("/metrics"));
}

TEST(HttpExporterTest, StartTwiceFailsAndRestartAfterStopWorks) {
  Registry registry;
  HttpExporter exporter(registry);
  ASSERT_TRUE(exporter.Start("127.0.0.1", 0).ok());
  EXPECT_EQ(exporter.Start("127.0.0.1", 0).code(), absl::StatusCode::kFailedPrecondition);
  exporter.Stop();
  exporter.Stop();
  ASSERT_TRUE(exporter.Start("127.0.0.1", 0).ok());
  auto client = ClientFor(exporter.port());
  EXPECT_TRUE(client->Get("/metrics"));
}

TEST(HttpExporterTest, PortInUseIsUnavailable) {
  Registry registry;
  HttpExporter first(registry);
  ASSERT_TRUE(first.Start("127.0.0.1", 0).ok());
  HttpExporter second(registry);
  EXPECT_EQ(second.Start("127.0.0.1", first.port()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.port(), 0);
}

TEST(HttpExporterTest, StopRightAfterStartReturns) {
  Registry registry;
  for (int i = 0; i < 20; ++i) {
    HttpExporter exporter(registry);
    ASSERT_TRUE(exporter.Start("127.0.0.1", 0).ok());
  }  // destructor stops
}

TEST(HttpExporterTest, StopWithAnOpenKeepAliveConnection) {
  Registry registry;
  HttpExporter exporter(registry);
  ASSERT_TRUE(exporter.Start("127.0.0.1", 0).ok());
  auto client = ClientFor(exporter.port());
  client->set_keep_alive(true);
  ASSERT_TRUE(client->Get("/metrics"));
  const absl::Time start = absl::Now();
  exporter.Stop();
  // Not the 5 s keep-alive timeout the client asked for; generous bound.
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

}  // namespace
}  // namespace coffer::metrics
