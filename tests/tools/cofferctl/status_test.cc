// cofferctl status against the real binaries: the JSON document names every
// service and its health, and the exit code says whether all are SERVING.
#include <signal.h>

#include "gtest/gtest.h"
#include <google/protobuf/struct.pb.h>

#include "tests/integration/integration_test_base.h"
#include "tests/tools/cofferctl/cofferctl_runner.h"
#include "tools/cofferctl/status_table.h"

namespace coffer::testing {
namespace {

class CofferctlStatusTest : public IntegrationTestBase {
 protected:
  // Stderr joins stdout: the JSON document must be all the binary prints.
  CommandOutput Status(std::vector<std::string> args) {
    args.push_back("status");
    return RunCofferctlMerged(args);
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

  CommandOutput healthy = Status(json_args);
  EXPECT_EQ(healthy.exit_code, 0) << healthy.stdout_text;
  google::protobuf::Struct document;
  ASSERT_TRUE(JsonToMessage(healthy.stdout_text, &document));
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
  CommandOutput degraded = Status(addresses);
  EXPECT_EQ(degraded.exit_code, 1) << degraded.stdout_text;
  EXPECT_NE(degraded.stdout_text.find("UNREACHABLE"), std::string::npos) << degraded.stdout_text;
  EXPECT_NE(degraded.stdout_text.find("SERVICE"), std::string::npos) << degraded.stdout_text;
}

TEST_F(CofferctlStatusTest, RejectsUnknownCommandsAndFormats) {
  CommandOutput unknown = RunCofferctlMerged({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.stdout_text.find("cofferctl --help"), std::string::npos) << unknown.stdout_text;

  CommandOutput bad_format = RunCofferctlMerged({"--output=yaml", "status"});
  EXPECT_EQ(bad_format.exit_code, 2);
  EXPECT_NE(bad_format.stdout_text.find("--output"), std::string::npos) << bad_format.stdout_text;
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
