#include "tests/integration/integration_test_base.h"

#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include "common/grpc/auth/bearer_token.h"
#include "tests/common/grpc/tls_test_certs.h"

namespace coffer::testing {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

// 32 random hex digits: a token no test could guess or reuse.
std::string RandomToken() {
  absl::BitGen random;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(random),
                         absl::Uniform<uint64_t>(random));
}

// Writes `contents` to `path`, readable by its owner alone.
void WritePrivateFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  chmod(path.c_str(), 0600);
  if (!out) {
    ADD_FAILURE() << "cannot write " << path;
    throw std::runtime_error("cannot write a secure-suite file");
  }
}

// The live secure fixture's ClientEnvironment (one fixture lives at a time).
absl::Mutex client_environment_mu;
std::vector<std::string>& LiveClientEnvironment()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(client_environment_mu) {
  static auto* environment = new std::vector<std::string>();
  return *environment;
}

}  // namespace

IntegrationTestBase::IntegrationTestBase() : directory_(MakeTestDirectory("integration")) {
  if (SecureSuite()) UseSecureSuite();
}

IntegrationTestBase::~IntegrationTestBase() {
  absl::MutexLock lock(&client_environment_mu);
  LiveClientEnvironment().clear();
}

std::vector<std::string> IntegrationTestBase::ClientEnvironment() {
  absl::MutexLock lock(&client_environment_mu);
  return LiveClientEnvironment();
}

bool IntegrationTestBase::SecureSuite() {
  const char* secure = std::getenv("COFFER_TEST_SECURE");
  return secure != nullptr && std::string(secure) == "1";
}

void IntegrationTestBase::UseSecureSuite() {
  const std::string certs = absl::StrCat(directory_, "/secure-suite");
  mkdir(certs.c_str(), 0700);
  absl::StatusOr<TestCa> ca = TestCa::Create(certs, "suite-ca");
  absl::StatusOr<grpc_util::TlsFiles> service =
      ca.ok() ? ca->Issue("service") : absl::StatusOr<grpc_util::TlsFiles>(ca.status());
  absl::StatusOr<grpc_util::TlsFiles> client =
      ca.ok() ? ca->Issue("client") : absl::StatusOr<grpc_util::TlsFiles>(ca.status());
  if (!service.ok() || !client.ok()) {
    ADD_FAILURE() << "secure suite: cannot make certificates: "
                  << (service.ok() ? client.status() : service.status());
    throw std::runtime_error("no certificates");
  }
  UseTls(*service, *client);

  // The fixture and the scheduler call as admin; the read token is there so
  // the file holds both roles, as a deployment's does.
  const std::string admin_token = RandomToken();
  tokens_file_ = absl::StrCat(certs, "/tokens");
  WritePrivateFile(tokens_file_,
                   absl::StrCat("# the secure suite's tokens\n", "admin ", admin_token,
                                " harness\n", "read ", RandomToken(), " reader\n"));
  admin_token_file_ = absl::StrCat(certs, "/admin.token");
  WritePrivateFile(admin_token_file_, absl::StrCat(admin_token, "\n"));
  client_metadata_ = {grpc_util::auth::BearerMetadata(admin_token)};
  absl::MutexLock lock(&client_environment_mu);
  LiveClientEnvironment() = {absl::StrCat("COFFER_TLS_CA=", client->ca_file),
                             absl::StrCat("COFFER_TLS_CERT=", client->cert_file),
                             absl::StrCat("COFFER_TLS_KEY=", client->key_file),
                             absl::StrCat("COFFER_TOKEN_FILE=", admin_token_file_)};
}

std::vector<std::string> IntegrationTestBase::SecurityArgs(Service service) const {
  std::vector<std::string> args = tls_args_;
  if (!tokens_file_.empty()) {
    args.push_back(absl::StrCat("--auth_tokens_file=", tokens_file_));
    if (service == Service::kScheduler) {
      args.push_back(absl::StrCat("--token_file=", admin_token_file_));
    }
  }
  return args;
}

std::shared_ptr<grpc::Channel> IntegrationTestBase::Channel(const ServiceProcess& process) const {
  return grpc_util::MakeChannel(process.address(), client_security_);
}

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

absl::StatusOr<std::unique_ptr<ServiceProcess>> IntegrationTestBase::Launch(
    Service service, std::string name, std::vector<std::string> args, std::string directory,
    std::vector<std::string> environment) const {
  // First, so that a test's own arguments win.
  const std::vector<std::string> security = SecurityArgs(service);
  args.insert(args.begin(), security.begin(), security.end());
  return ServiceProcess::Start(std::move(name), BinaryPath(service), std::move(args),
                               std::move(directory), std::move(environment));
}

ServiceProcess& IntegrationTestBase::StartService(Service service, std::vector<std::string> args) {
  std::string name = NameOf(service);
  auto process = Launch(service, name, std::move(args), absl::StrCat(directory_, "/", name));
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
