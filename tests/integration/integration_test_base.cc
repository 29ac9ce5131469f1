#include "tests/integration/integration_test_base.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace coffer::testing {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

IntegrationTestBase::IntegrationTestBase() : directory_(MakeTestDirectory("integration")) {}

std::string IntegrationTestBase::NameOf(Service service) { return client::ServiceName(service); }

std::string IntegrationTestBase::BinaryPath(Service service) {
  std::string name = NameOf(service);
  return RunfilePath(absl::StrCat("services/", name, "/coffer-", name));
}

void IntegrationTestBase::UseTls(const grpc_util::TlsFiles& service_files,
                                 const grpc_util::TlsFiles& client_files) {
  absl::StatusOr<grpc_util::ChannelSecurity> security =
      grpc_util::MakeChannelSecurity(client_files);
  if (!security.ok() || !security->tls()) {
    ADD_FAILURE() << "UseTls: the client files give no TLS: " << security.status();
    throw std::runtime_error("no client TLS");
  }
  client_security_ = *std::move(security);
  tls_args_ = {absl::StrCat("--tls_cert=", service_files.cert_file),
               absl::StrCat("--tls_key=", service_files.key_file)};
  if (!service_files.ca_file.empty()) {
    tls_args_.push_back(absl::StrCat("--tls_ca=", service_files.ca_file));
  }
}

ServiceProcess& IntegrationTestBase::StartService(Service service, std::vector<std::string> args) {
  std::string name = NameOf(service);
  // First, so that a test's own --tls_* arguments win.
  args.insert(args.begin(), tls_args_.begin(), tls_args_.end());
  auto process = ServiceProcess::Start(name, BinaryPath(service), std::move(args),
                                       absl::StrCat(directory_, "/", name));
  if (!process.ok()) {
    ADD_FAILURE() << "cannot start " << name << ": " << process.status();
    throw std::runtime_error("service did not start");
  }
  processes_.push_back(std::move(*process));
  ServiceProcess& started = *processes_.back();
  if (!WaitForHealth(started, "SERVING")) {
    ADD_FAILURE() << name << " never became SERVING:\n" << started.Log();
    throw std::runtime_error("service not serving");
  }
  return started;
}

::testing::AssertionResult IntegrationTestBase::WaitForHealth(ServiceProcess& process,
                                                              const std::string& status,
                                                              absl::Duration timeout) {
  auto health = Client<Health>(process);
  absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (absl::Now() < deadline) {
    grpc_util::CallOptions options;
    options.timeout = absl::Seconds(2);
    auto reply =
        health->CallBlocking(&Health::Stub::PrepareAsyncCheck, HealthCheckRequest(), options);
    last = reply.ok() ? HealthCheckResponse::ServingStatus_Name(reply->status())
                      : reply.status().ToString();
    if (last == status) return ::testing::AssertionSuccess();
    if (!process.Running()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return ::testing::AssertionFailure()
         << process.name() << " health is " << last << ", expected " << status;
}

void IntegrationTestBase::StopAndExpectCleanExit(ServiceProcess& process, int signal) {
  absl::StatusOr<int> code = process.Stop(signal);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << process.name() << " exited with " << *code << ":\n" << process.Log();
}

void IntegrationTestBase::TearDown() {
  for (auto& process : processes_) {
    if (process->Running()) StopAndExpectCleanExit(*process, SIGTERM);
  }
  queue_.Shutdown();
}

}  // namespace coffer::testing
