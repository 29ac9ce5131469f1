// cofferctl status against the real binaries: the JSON document names every
// service and its health, and the exit code says whether all are SERVING.
#include <signal.h>

#include "gtest/gtest.h"
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "tests/integration/integration_test_base.h"
#include "tools/cofferctl/status_table.h"

namespace coffer::testing {
namespace {

class CofferctlStatusTest : public IntegrationTestBase {
 protected:
  CommandResult Status(const std::vector<std::string>& extra) {
    std::vector<std::string> args = extra;
    args.push_back("status");
    auto result = RunCommand(RunfilePath("tools/cofferctl/cofferctl"), args);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{-1, ""};
  }
};

TEST_F(CofferctlStatusTest, JsonNamesEveryServiceAndExitCodeFollowsHealth) {
  ServiceProcess& fetcher = StartService(Service::kFetcher);
  ServiceProcess& storage = StartService(Service::kStorage);
  ServiceProcess& scheduler = StartService(Service::kScheduler);
  std::vector<std::string> addresses = {"--fetcher=" + fetcher.address(),
                                        "--storage=" + storage.address(),
                                        "--scheduler=" + scheduler.address()};
  std::vector<std::string> json_args = addresses;
  json_args.push_back("--output=json");

  CommandResult healthy = Status(json_args);
  EXPECT_EQ(healthy.exit_code, 0) << healthy.output;
  google::protobuf::Struct document;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(healthy.output, &document).ok())
      << healthy.output;
  const auto& services = document.fields().at("services").list_value().values();
  ASSERT_EQ(services.size(), 3);
  std::vector<std::string> names = {"fetcher", "storage", "scheduler"};
  for (int i = 0; i < 3; ++i) {
    const auto& fields = services[i].struct_value().fields();
    EXPECT_EQ(fields.at("name").string_value(), names[i]);
    EXPECT_EQ(fields.at("health").string_value(), "SERVING");
    EXPECT_EQ(fields.at("status").struct_value().fields().at("service").string_value(),
              "coffer-" + names[i]);
  }

  StopAndExpectCleanExit(storage, SIGTERM);
  CommandResult degraded = Status(addresses);
  EXPECT_EQ(degraded.exit_code, 1) << degraded.output;
  EXPECT_NE(degraded.output.find("UNREACHABLE"), std::string::npos) << degraded.output;
  EXPECT_NE(degraded.output.find("SERVICE"), std::string::npos) << degraded.output;
}

TEST_F(CofferctlStatusTest, RejectsUnknownCommandsAndFormats) {
  auto unknown = RunCommand(RunfilePath("tools/cofferctl/cofferctl"), {"frobnicate"});
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->exit_code, 2);
  EXPECT_NE(unknown->output.find("cofferctl --help"), std::string::npos) << unknown->output;

  auto bad_format =
      RunCommand(RunfilePath("tools/cofferctl/cofferctl"), {"--output=yaml", "status"});
  ASSERT_TRUE(bad_format.ok());
  EXPECT_EQ(bad_format->exit_code, 2);
  EXPECT_NE(bad_format->output.find("--output"), std::string::npos) << bad_format->output;
}

TEST(StatusTableTest, AlignsColumnsAndShowsErrors) {
  cofferctl::ServiceStatus up;
  up.name = "storage";
  up.address = "127.0.0.1:50052";
  up.health = "SERVING";
  up.status.emplace();
  up.status->set_version("0.1.0");
  up.status->mutable_uptime()->set_seconds(3725);
  cofferctl::ServiceStatus down;
  down.name = "fetcher";
  down.address = "127.0.0.1:50051";
  down.health = "UNREACHABLE";
  down.error = "UNAVAILABLE: connection refused";
  std::string table = cofferctl::StatusTable({up, down});
  EXPECT_EQ(table,
            "SERVICE  ADDRESS          HEALTH       VERSION  UPTIME  IN-FLIGHT  NOTE\n"
            "storage  127.0.0.1:50052  SERVING      0.1.0    1h2m5s  0\n"
            "fetcher  127.0.0.1:50051  UNREACHABLE  -        -       -          "
            "UNAVAILABLE: connection refused\n");
}

}  // namespace
}  // namespace coffer::testing
