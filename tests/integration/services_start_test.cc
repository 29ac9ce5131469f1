// The three real binaries start, serve health, reflection and Admin, answer
// their own API (UNIMPLEMENTED until each service's issue lands), refuse bad
// configuration clearly, and shut down cleanly on SIGTERM and SIGINT.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include <grpcpp/grpcpp.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/integration_test_base.h"
#include "tests/testing/reflection_client.h"

namespace coffer::testing {
namespace {

class ServicesStartTest : public IntegrationTestBase {};

TEST_F(ServicesStartTest, AllThreeServeAndStopCleanly) {
  struct Expected {
    Service service;
    std::string binary_name;
    std::string api;
  };
  std::vector<Expected> expected = {
      {Service::kStorage, "coffer-storage", "coffer.v1.Storage"},
      {Service::kFetcher, "coffer-fetcher", "coffer.v1.Fetcher"},
      {Service::kScheduler, "coffer-scheduler", "coffer.v1.Scheduler"},
  };
  std::vector<ServiceProcess*> processes;
  for (const Expected& e : expected) processes.push_back(&StartService(e.service));

  for (size_t i = 0; i < expected.size(); ++i) {
    ServiceProcess& process = *processes[i];
    auto admin = Client<v1::Admin>(process);
    auto status =
        admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest());
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->service(), expected[i].binary_name);
    EXPECT_TRUE(status->ready());

    auto health = Client<grpc::health::v1::Health>(process);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(expected[i].api);
    auto named = health->CallBlocking(&grpc::health::v1::Health::Stub::PrepareAsyncCheck, request);
    ASSERT_TRUE(named.ok()) << named.status();
    EXPECT_EQ(named->status(), grpc::health::v1::HealthCheckResponse::SERVING);

    absl::StatusOr<std::vector<std::string>> listed = ReflectedServices(Channel(process));
    ASSERT_TRUE(listed.ok()) << listed.status();
    const std::vector<std::string>& services = *listed;
    for (const std::string& name :
         {expected[i].api, std::string("coffer.v1.Admin"), std::string("grpc.health.v1.Health")}) {
      EXPECT_NE(std::find(services.begin(), services.end(), name), services.end())
          << process.name() << " does not list " << name;
    }
  }

  // The fetcher's own API answers: with no configuration, the built-in
  // development chain (anvil on 127.0.0.1:8545).
  auto fetcher = Client<v1::Fetcher>(*processes[1]);
  auto upstreams = fetcher->CallBlocking(&v1::Fetcher::Stub::PrepareAsyncListUpstreams,
                                         v1::ListUpstreamsRequest());
  ASSERT_TRUE(upstreams.ok()) << upstreams.status();
  ASSERT_EQ(upstreams->chains_size(), 1);
  EXPECT_EQ(upstreams->chains(0).chain_id(), "eip155:31337");
  ASSERT_EQ(upstreams->chains(0).endpoints_size(), 1);
  EXPECT_EQ(upstreams->chains(0).endpoints(0).host(), "127.0.0.1:8545");

  // Metrics saw the calls above.
  auto admin = Client<v1::Admin>(*processes[0]);
  auto metrics =
      admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetMetrics, v1::GetMetricsRequest());
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  bool saw_status = false;
  for (const auto& method : metrics->methods()) {
    if (method.method() == "/coffer.v1.Admin/GetStatus" && method.calls() >= 1) saw_status = true;
  }
  EXPECT_TRUE(saw_status);

  StopAndExpectCleanExit(*processes[2], SIGTERM);
  StopAndExpectCleanExit(*processes[1], SIGINT);
  StopAndExpectCleanExit(*processes[0], SIGTERM);
  EXPECT_NE(processes[0]->Log().find("stopped"), std::string::npos);
}

// The suite runs twice (integration_test.bzl): in the clear, and secure
// (COFFER_TEST_SECURE=1). This says which one ran, from outside: in the
// secure run a plaintext client is refused at the handshake and a TLS client
// without a token is UNAUTHENTICATED, so the other tests' passing means
// they passed over mTLS with tokens; in the clear run both are served.
TEST_F(ServicesStartTest, TheSuiteRunsAsItSays) {
  ServiceProcess& storage = StartService(Service::kStorage);
  grpc_util::ClientQueue queue("suite-probe");
  grpc_util::CallOptions options;
  options.timeout = absl::Seconds(5);

  grpc_util::AsyncClient<grpc::health::v1::Health> plaintext(
      grpc_util::MakeChannel(storage.address()), &queue);
  auto health = plaintext.CallBlocking(&grpc::health::v1::Health::Stub::PrepareAsyncCheck,
                                       grpc::health::v1::HealthCheckRequest(), options);
  grpc_util::AsyncClient<v1::Storage> tokenless(Channel(storage), &queue);
  auto listed = tokenless.CallBlocking(&v1::Storage::Stub::PrepareAsyncListAccounts,
                                       v1::ListAccountsRequest(), options);
  auto with_token = Client<v1::Storage>(storage);
  auto listed_with_token = with_token->CallBlocking(&v1::Storage::Stub::PrepareAsyncListAccounts,
                                                    v1::ListAccountsRequest(), options);
  EXPECT_TRUE(listed_with_token.ok()) << listed_with_token.status();
  if (SecureSuite()) {
    EXPECT_EQ(health.status().code(), absl::StatusCode::kUnavailable) << health.status();
    EXPECT_EQ(listed.status().code(), absl::StatusCode::kUnauthenticated) << listed.status();
    EXPECT_NE(storage.Log().find("gRPC transport: mTLS"), std::string::npos) << storage.Log();
  } else {
    EXPECT_TRUE(health.ok()) << health.status();
    EXPECT_TRUE(listed.ok()) << listed.status();
  }
  queue.Shutdown();
}

// Prometheus text is plain HTTP: like a plaintext gRPC port, it may face
// the network only when the operator says --insecure.
TEST_F(ServicesStartTest, MetricsOffLoopbackNeedInsecure) {
  auto refused = RunCommand(BinaryPath(Service::kFetcher),
                            {"--listen=127.0.0.1:0", "--metrics_listen=0.0.0.0:0"});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->exit_code, 1) << refused->output;
  EXPECT_NE(refused->output.find("--metrics_listen=0.0.0.0:0 is not a loopback address"),
            std::string::npos)
      << refused->output;

  ServiceProcess& fetcher =
      StartService(Service::kFetcher, {"--metrics_listen=0.0.0.0:0", "--insecure"});
  EXPECT_NE(fetcher.Log().find("Prometheus metrics on http://0.0.0.0:0/metrics"), std::string::npos)
      << fetcher.Log();
}

TEST_F(ServicesStartTest, RefusesAPortInUse) {
  ServiceProcess& storage = StartService(Service::kStorage);
  auto result = RunCommand(BinaryPath(Service::kStorage), {"--listen=" + storage.address()});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 1) << result->output;
  EXPECT_NE(result->output.find("could not listen on " + storage.address()), std::string::npos)
      << result->output;
}

TEST_F(ServicesStartTest, BadFlagsAreReportedByName) {
  auto unknown = RunCommand(BinaryPath(Service::kFetcher), {"--no_such_flag=1"});
  ASSERT_TRUE(unknown.ok());
  EXPECT_NE(unknown->exit_code, 0);
  EXPECT_NE(unknown->output.find("no_such_flag"), std::string::npos) << unknown->output;

  auto help = RunCommand(BinaryPath(Service::kScheduler), {"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_NE(help->output.find("--listen"), std::string::npos) << help->output;
  EXPECT_NE(help->output.find("--shutdown_grace"), std::string::npos) << help->output;
}

// A loopback port nobody listens on right now.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST_F(ServicesStartTest, DebugModeAndPrometheusEndpoint) {
  int metrics_port = FreePort();
  ServiceProcess& fetcher = StartService(
      Service::kFetcher, {"--debug", "--metrics_listen=127.0.0.1:" + std::to_string(metrics_port)});
  auto admin = Client<v1::Admin>(fetcher);
  auto status =
      admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->debug_mode());

  httplib::Client http("127.0.0.1", metrics_port);
  auto response = http.Get("/metrics");
  ASSERT_TRUE(response) << "no answer from the metrics endpoint";
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.find("grpc_server_calls_total{method=\"/coffer.v1.Admin/GetStatus\"}"),
            std::string::npos)
      << response->body;
}

TEST_F(ServicesStartTest, EnvironmentFallbackSetsFlags) {
  // COFFER_DEBUG=1 is --debug, for operators who configure by environment.
  auto process = Launch(Service::kStorage, "storage-env", {}, directory() + "/storage-env",
                        {"COFFER_DEBUG=true"});
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE(WaitForHealth(**process, "SERVING"));
  auto admin = Client<v1::Admin>(**process);
  auto status =
      admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->debug_mode());
  StopAndExpectCleanExit(**process, SIGTERM);
}

}  // namespace
}  // namespace coffer::testing
