// cofferctl metrics against the three real services: the table and the JSON
// document hold the metrics they export, --filter narrows them, a service
// that is down is a row of its own and exit status 1.
#include "tools/cofferctl/metrics_command.h"

#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "tests/integration/integration_test_base.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"
#include "tools/cofferctl/command.h"

namespace coffer::testing {
namespace {

using ::testing::HasSubstr;

// The row of `metric` for `service` in a metrics table, split on runs of
// spaces; empty when there is none.
std::vector<std::string> Row(const std::string& table, const std::string& service,
                             const std::string& metric) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cells.size() >= 4 && cells[0] == service && cells[1] == metric) return cells;
  }
  return {};
}

class CofferctlMetricsTest : public IntegrationTestBase {
 protected:
  void StartAll() {
    processes_ = {&StartService(Service::kFetcher), &StartService(Service::kStorage),
                  &StartService(Service::kScheduler)};
    // One GetStatus each, so every service has counted a call of a method
    // the test knows.
    for (ServiceProcess* process : processes_) {
      auto admin = Client<v1::Admin>(*process);
      ASSERT_TRUE(
          admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest())
              .ok());
    }
  }

  CommandOutput Cofferctl(const std::vector<std::string>& args) {
    return RunCofferctl(
        Prepend(AddressFlags(*processes_[0], *processes_[1], *processes_[2]), args));
  }

  std::vector<ServiceProcess*> processes_;
};

constexpr char kGetStatusCalls[] = "grpc_server_calls_total{method=\"/coffer.v1.Admin/GetStatus\"}";
constexpr char kGetStatusLatency[] =
    "grpc_server_latency_seconds{method=\"/coffer.v1.Admin/GetStatus\"}";

TEST_F(CofferctlMetricsTest, TableShowsEveryServicesMetrics) {
  StartAll();
  CommandOutput table = Cofferctl({"metrics"});
  ASSERT_EQ(table.exit_code, 0) << table.stdout_text << table.stderr_text;
  EXPECT_EQ(table.stderr_text, "");
  EXPECT_TRUE(absl::StartsWith(table.stdout_text, "SERVICE    METRIC")) << table.stdout_text;
  for (const std::string service : {"fetcher", "storage", "scheduler"}) {
    std::vector<std::string> calls = Row(table.stdout_text, service, kGetStatusCalls);
    ASSERT_EQ(calls.size(), 4u) << service << "\n" << table.stdout_text;
    EXPECT_EQ(calls[2], "counter");
    int64_t count = 0;
    ASSERT_TRUE(absl::SimpleAtoi(calls[3], &count)) << calls[3];
    EXPECT_GE(count, 1);
    // A histogram: count, sum and percentiles in milliseconds.
    std::vector<std::string> latency = Row(table.stdout_text, service, kGetStatusLatency);
    ASSERT_EQ(latency.size(), 7u) << service << "\n" << table.stdout_text;
    EXPECT_EQ(latency[2], "histogram");
    EXPECT_EQ(latency[3], absl::StrCat("count=", count));
    EXPECT_TRUE(absl::StartsWith(latency[4], "sum=") && absl::EndsWith(latency[4], "ms"));
    EXPECT_TRUE(absl::StartsWith(latency[5], "p50=") && absl::EndsWith(latency[5], "ms"));
    EXPECT_TRUE(absl::StartsWith(latency[6], "p99=") && absl::EndsWith(latency[6], "ms"));
  }
  // Service-specific metrics are there too, not only the framework's.
  EXPECT_THAT(table.stdout_text, HasSubstr("\nstorage    storage_db_"));
  EXPECT_THAT(table.stdout_text, HasSubstr("\nfetcher    fetcher_"));
}

TEST_F(CofferctlMetricsTest, FilterNarrowsToAPrefixAndServicesToThoseNamed) {
  StartAll();
  CommandOutput filtered = Cofferctl({"metrics", "fetcher", "--filter=grpc_server_calls"});
  ASSERT_EQ(filtered.exit_code, 0) << filtered.stdout_text << filtered.stderr_text;
  std::vector<std::string> lines = absl::StrSplit(filtered.stdout_text, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << filtered.stdout_text;
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], "fetcher  grpc_server_calls_total{")) << lines[i];
  }
  EXPECT_EQ(Row(filtered.stdout_text, "fetcher", kGetStatusCalls).size(), 4u)
      << filtered.stdout_text;

  CommandOutput json = Cofferctl(
      {"--output=json", "metrics", "storage", "scheduler", "--filter=grpc_server_latency"});
  ASSERT_EQ(json.exit_code, 0) << json.stdout_text << json.stderr_text;
  google::protobuf::Struct document;
  ASSERT_TRUE(JsonToMessage(json.stdout_text, &document));
  const auto& services = document.fields().at("services").struct_value().fields();
  EXPECT_EQ(services.size(), 2u);
  EXPECT_EQ(services.count("fetcher"), 0u);
  EXPECT_TRUE(document.fields().at("errors").struct_value().fields().empty());
  for (const std::string service : {"storage", "scheduler"}) {
    ASSERT_EQ(services.count(service), 1u) << json.stdout_text;
    const auto& answer = services.at(service).struct_value().fields();
    // The per-method summary ignores the filter, so a filtered answer
    // leaves it out.
    EXPECT_TRUE(answer.at("methods").list_value().values().empty());
    const auto& metrics = answer.at("metrics").list_value().values();
    ASSERT_FALSE(metrics.empty()) << service;
    for (const auto& metric : metrics) {
      const auto& fields = metric.struct_value().fields();
      EXPECT_EQ(fields.at("name").string_value(), "grpc_server_latency_seconds");
      EXPECT_EQ(fields.at("kind").string_value(), "HISTOGRAM");
    }
  }
}

TEST_F(CofferctlMetricsTest, JsonIsOneDocumentOfGetMetricsResponses) {
  StartAll();
  CommandOutput json = Cofferctl({"metrics", "--output", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.stdout_text << json.stderr_text;
  EXPECT_EQ(json.stderr_text, "");
  google::protobuf::Struct document;
  ASSERT_TRUE(JsonToMessage(json.stdout_text, &document));
  const auto& services = document.fields().at("services").struct_value().fields();
  ASSERT_EQ(services.size(), 3u);
  for (const std::string service : {"fetcher", "storage", "scheduler"}) {
    // Each is a GetMetricsResponse in proto JSON.
    std::string text;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(services.at(service), &text).ok());
    v1::GetMetricsResponse response;
    ASSERT_TRUE(JsonToMessage(text, &response));
    bool counted = false;
    for (const v1::MethodStats& method : response.methods()) {
      if (method.method() == "/coffer.v1.Admin/GetStatus" && method.calls() >= 1) counted = true;
    }
    EXPECT_TRUE(counted) << service << ": " << text;
    bool listed = false;
    for (const v1::Metric& metric : response.metrics()) {
      if (metric.name() == "grpc_server_calls_total" && metric.kind() == v1::Metric::COUNTER) {
        listed = true;
      }
    }
    EXPECT_TRUE(listed) << service;
  }
}

TEST_F(CofferctlMetricsTest, AServiceThatIsDownIsARowOfItsOwnAndExitsOne) {
  StartAll();
  const std::string storage_address = processes_[1]->address();
  StopAndExpectCleanExit(*processes_[1], SIGTERM);

  CommandOutput table = Cofferctl({"metrics"});
  EXPECT_EQ(table.exit_code, 1) << table.stdout_text << table.stderr_text;
  std::vector<std::string> down = Row(table.stdout_text, "storage", "UNREACHABLE");
  ASSERT_GE(down.size(), 4u) << table.stdout_text;
  EXPECT_THAT(table.stdout_text, HasSubstr("storage at " + storage_address));
  // The others still print.
  EXPECT_EQ(Row(table.stdout_text, "fetcher", kGetStatusCalls).size(), 4u) << table.stdout_text;
  EXPECT_EQ(Row(table.stdout_text, "scheduler", kGetStatusCalls).size(), 4u) << table.stdout_text;

  CommandOutput json = Cofferctl({"--output=json", "metrics"});
  EXPECT_EQ(json.exit_code, 1);
  google::protobuf::Struct document;
  ASSERT_TRUE(JsonToMessage(json.stdout_text, &document));
  const auto& services = document.fields().at("services").struct_value().fields();
  EXPECT_EQ(services.size(), 2u);
  const auto& errors = document.fields().at("errors").struct_value().fields();
  ASSERT_EQ(errors.count("storage"), 1u) << json.stdout_text;
  EXPECT_THAT(errors.at("storage").string_value(), HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(json.stderr_text, HasSubstr("storage at " + storage_address));
}

TEST(MetricsCommandTest, UnknownServiceIsAUsageErrorAndEveryListedFlagExists) {
  CommandOutput result = RunCofferctlMerged({"metrics", "frobnicator"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stdout_text, HasSubstr("fetcher, storage or scheduler"));
  for (const cofferctl::Command& command : cofferctl::MetricsCommands()) {
    EXPECT_THAT(cofferctl::CommandHelp(command), ::testing::Not(HasSubstr("undefined flag")));
  }
}

}  // namespace
}  // namespace coffer::testing
