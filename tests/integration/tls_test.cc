// Transport security with the real binaries: services serving TLS and mTLS
// from --tls_cert/--tls_key/--tls_ca, refusing plaintext and strangers at the
// handshake, picking up a rotated certificate while running, refusing to
// serve plaintext on a non-loopback address without --insecure; the
// scheduler refreshing balances through storage and fetcher over mTLS; and
// cofferctl reaching the stack over mTLS from flags and from COFFER_TLS_*.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/channel.h"
#include "tests/common/grpc/tls_test_certs.h"
#include "tests/integration/integration_test_base.h"
#include "tests/integration/scheduler_system_fixture.h"
#include "tests/integration/service_process.h"
#include "tests/testing/free_port.h"

namespace coffer::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using grpc_util::TlsFiles;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The base64 body of a PEM key: what must never show up in a log.
std::string KeyBody(const std::string& key_file) {
  std::string pem = ReadAll(key_file);
  const size_t start = pem.find('\n');
  const size_t end = pem.find("-----END");
  if (start == std::string::npos || end == std::string::npos) return pem;
  std::string body = pem.substr(start + 1, end - start - 1);
  // The first line alone is distinctive enough and survives any rewrapping.
  return body.substr(0, body.find('\n'));
}

// Health of `address` over a new channel secured by `client_files`:
// "SERVING", or the call's error code name.
std::string HealthVia(grpc_util::ClientQueue& queue, const std::string& address,
                      const TlsFiles& client_files) {
  absl::StatusOr<grpc_util::ChannelSecurity> security =
      grpc_util::MakeChannelSecurity(client_files);
  if (!security.ok()) return security.status().ToString();
  grpc_util::AsyncClient<Health> health(grpc_util::MakeChannel(address, *security), &queue);
  grpc_util::CallOptions options;
  options.timeout = absl::Seconds(5);
  absl::StatusOr<HealthCheckResponse> reply =
      health.CallBlocking(&Health::Stub::PrepareAsyncCheck, HealthCheckRequest(), options);
  if (!reply.ok()) return absl::StatusCodeToString(reply.status().code());
  return HealthCheckResponse::ServingStatus_Name(reply->status());
}

class TlsProcessTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    certs_ = absl::StrCat(directory(), "/certs");
    mkdir(certs_.c_str(), 0700);
    absl::StatusOr<TestCa> ca = TestCa::Create(certs_, "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(*ca);
    absl::StatusOr<TestCa> other = TestCa::Create(certs_, "other-ca");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ca_ = std::make_unique<TestCa>(*other);
  }

  void TearDown() override {
    queue_.Shutdown();
    IntegrationTestBase::TearDown();
  }

  TlsFiles Issue(const TestCa& ca, const std::string& name) {
    absl::StatusOr<TlsFiles> files = ca.Issue(name);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : TlsFiles{};
  }

  std::string certs_;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> other_ca_;
  grpc_util::ClientQueue queue_{"tls-probe"};
};

TEST_F(TlsProcessTest, MutualTlsStorageRefusesPlaintextAndStrangers) {
  const TlsFiles service = Issue(*ca_, "storage");
  const TlsFiles client = Issue(*ca_, "client");
  UseTls(service, client);
  ServiceProcess& storage = StartService(Service::kStorage);  // SERVING to `client`

  EXPECT_EQ(HealthVia(queue_, storage.address(), client), "SERVING");
  EXPECT_EQ(HealthVia(queue_, storage.address(), {}), "UNAVAILABLE");  // plaintext
  EXPECT_EQ(HealthVia(queue_, storage.address(), {.ca_file = ca_->ca_file()}),
            "UNAVAILABLE");  // no client certificate
  TlsFiles stranger = Issue(*other_ca_, "stranger");
  stranger.ca_file = ca_->ca_file();
  EXPECT_EQ(HealthVia(queue_, storage.address(), stranger), "UNAVAILABLE");

  const std::string log = storage.Log();
  EXPECT_NE(log.find("gRPC transport: mTLS"), std::string::npos) << log;
  EXPECT_EQ(log.find(KeyBody(service.key_file)), std::string::npos);
  EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos);
}

TEST_F(TlsProcessTest, RunningServerPicksUpARotatedCertificate) {
  TlsFiles service = Issue(*ca_, "storage");
  service.ca_file.clear();  // one-way TLS: only the server's certificate moves
  UseTls(service, {.ca_file = ca_->ca_file()});
  ServiceProcess& storage = StartService(Service::kStorage);
  const TlsFiles trusts_other{.ca_file = other_ca_->ca_file()};
  ASSERT_EQ(HealthVia(queue_, storage.address(), trusts_other), "UNAVAILABLE");

  // The same paths, now a certificate from the other CA.
  absl::StatusOr<TlsFiles> rotated = other_ca_->Issue("storage");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_EQ(rotated->cert_file, service.cert_file);

  // The files are re-read every 5 s; a generous deadline for a loaded machine.
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  std::string health;
  while (absl::Now() < deadline) {
    health = HealthVia(queue_, storage.address(), trusts_other);
    if (health == "SERVING") break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(health, "SERVING") << storage.Log();
  EXPECT_EQ(HealthVia(queue_, storage.address(), {.ca_file = ca_->ca_file()}), "UNAVAILABLE");
  EXPECT_TRUE(storage.Running());
}

TEST_F(TlsProcessTest, PlaintextOnANonLoopbackAddressNeedsInsecure) {
  absl::StatusOr<CommandResult> refused =
      RunCommand(BinaryPath(Service::kStorage),
                 {"--listen=0.0.0.0:0", absl::StrCat("--db_path=", directory(), "/refused.db")});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->exit_code, 1) << refused->output;
  EXPECT_NE(refused->output.find("is not a loopback address"), std::string::npos)
      << refused->output;
  EXPECT_NE(refused->output.find("--insecure"), std::string::npos) << refused->output;

  ServiceProcess& storage =
      StartService(Service::kStorage, {"--listen=0.0.0.0:0", "--insecure"});  // SERVING
  EXPECT_NE(storage.Log().find("plaintext on a non-loopback address (--insecure)"),
            std::string::npos)
      << storage.Log();
}

// --health_listen: a plaintext port for Kubernetes' gRPC probes (they do
// neither TLS nor tokens) that answers grpc.health.v1 and refuses every
// coffer method; the main port keeps mTLS. Without TLS there is nothing
// to tell the two ports apart by, so that is a startup error.
TEST_F(TlsProcessTest, HealthPortServesHealthAloneInPlaintext) {
  absl::StatusOr<int> port = PickUnusedPort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string health_address = absl::StrCat("127.0.0.1:", *port);
  const TlsFiles client = Issue(*ca_, "client");
  UseTls(Issue(*ca_, "storage"), client);
  ServiceProcess& storage =
      StartService(Service::kStorage, {absl::StrCat("--health_listen=", health_address)});

  EXPECT_EQ(HealthVia(queue_, health_address, {}), "SERVING");
  grpc_util::AsyncClient<v1::Storage> plaintext(grpc_util::MakeChannel(health_address), &queue_);
  absl::StatusOr<v1::ListAccountsResponse> refused = plaintext.CallBlocking(
      &v1::Storage::Stub::PrepareAsyncListAccounts, v1::ListAccountsRequest());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();

  absl::StatusOr<grpc_util::ChannelSecurity> security = grpc_util::MakeChannelSecurity(client);
  ASSERT_TRUE(security.ok()) << security.status();
  grpc_util::AsyncClient<v1::Storage> secure(grpc_util::MakeChannel(storage.address(), *security),
                                             &queue_);
  absl::StatusOr<v1::ListAccountsResponse> listed =
      secure.CallBlocking(&v1::Storage::Stub::PrepareAsyncListAccounts, v1::ListAccountsRequest());
  EXPECT_TRUE(listed.ok()) << listed.status();

  absl::StatusOr<CommandResult> without_tls =
      RunCommand(BinaryPath(Service::kStorage),
                 {"--listen=127.0.0.1:0", absl::StrCat("--health_listen=", health_address),
                  absl::StrCat("--db_path=", directory(), "/no-tls.db")});
  ASSERT_TRUE(without_tls.ok()) << without_tls.status();
  EXPECT_EQ(without_tls->exit_code, 1) << without_tls->output;
  EXPECT_NE(without_tls->output.find("--health_listen needs TLS on the main port"),
            std::string::npos)
      << without_tls->output;
}

TEST_F(TlsProcessTest, LoopbackPlaintextIsTheDefaultAndTheLogSaysSo) {
  ServiceProcess& fetcher = StartService(Service::kFetcher);
  EXPECT_NE(fetcher.Log().find("gRPC transport: plaintext on loopback"), std::string::npos)
      << fetcher.Log();
}

TEST_F(TlsProcessTest, BadCertificateFilesAreAStartupError) {
  const TlsFiles service = Issue(*ca_, "storage");
  const TlsFiles other = Issue(*ca_, "other");
  absl::StatusOr<CommandResult> mismatched =
      RunCommand(BinaryPath(Service::kStorage),
                 {"--listen=127.0.0.1:0", absl::StrCat("--tls_cert=", service.cert_file),
                  absl::StrCat("--tls_key=", other.key_file),
                  absl::StrCat("--db_path=", directory(), "/mismatched.db")});
  ASSERT_TRUE(mismatched.ok()) << mismatched.status();
  EXPECT_EQ(mismatched->exit_code, 1) << mismatched->output;
  EXPECT_NE(mismatched->output.find("is not the key of --tls_cert"), std::string::npos)
      << mismatched->output;
  EXPECT_EQ(mismatched->output.find(KeyBody(other.key_file)), std::string::npos);
}

// The three services and cofferctl over mTLS, with anvil as the chain.
class TlsStackTest : public SchedulerSystemTest {
 protected:
  void SetUp() override {
    SchedulerSystemTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const std::string certs = absl::StrCat(directory(), "/certs");
    mkdir(certs.c_str(), 0700);
    absl::StatusOr<TestCa> ca = TestCa::Create(certs, "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    absl::StatusOr<TlsFiles> service =
        ca->Issue("service", {.dns_names = {"storage", "fetcher", "scheduler"}});
    ASSERT_TRUE(service.ok()) << service.status();
    absl::StatusOr<TlsFiles> client = ca->Issue("cofferctl");
    ASSERT_TRUE(client.ok()) << client.status();
    service_ = *service;
    client_ = *client;
    UseTls(service_, client_);
  }

  // The scheduler among the base's processes, so that StartService gives it
  // the TLS arguments (SchedulerSystemTest::StartScheduler does not).
  ServiceProcess& StartTlsScheduler() {
    ServiceProcess& scheduler = StartService(
        Service::kScheduler, {absl::StrCat("--storage=", storage_process().address()),
                              absl::StrCat("--fetcher=", fetcher_process().address()),
                              "--replica_id=tls", "--lease_ttl=3s", "--default_tasks=false"});
    EXPECT_TRUE(WaitForRole(scheduler, v1::GetReplicaStatusResponse::ACTIVE));
    return scheduler;
  }

  std::vector<std::string> CofferctlAddresses() {
    return {absl::StrCat("--storage=", storage_process().address()),
            absl::StrCat("--fetcher=", fetcher_process().address()),
            absl::StrCat("--scheduler=", scheduler_->address())};
  }

  TlsFiles service_;
  TlsFiles client_;
  ServiceProcess* scheduler_ = nullptr;
};

TEST_F(TlsStackTest, SchedulerRefreshesThroughStorageAndFetcherOverMutualTls) {
  StartFetcher();
  StartStorage();
  AddAccounts({{1, "77"}});
  ServiceProcess& scheduler = StartTlsScheduler();
  EXPECT_TRUE(Eventually([&] { return HealthOf(scheduler, "storage") == "SERVING"; }));
  EXPECT_TRUE(Eventually([&] { return HealthOf(scheduler, "fetcher") == "SERVING"; }));

  auto api = SchedulerClient(scheduler);
  ASSERT_TRUE(CreateTaskWhenReady(*api, BalancesTask("balances", absl::Hours(1))).ok());
  absl::StatusOr<v1::TriggerTaskResponse> run = Trigger(*api, "balances", /*wait=*/true);
  ASSERT_TRUE(run.ok()) << run.status() << "\n" << scheduler.Log();
  EXPECT_TRUE(Eventually([&] { return LatestEther(1) == "77"; })) << LatestEther(1);

  EXPECT_NE(scheduler.Log().find("called over TLS"), std::string::npos) << scheduler.Log();
  for (ServiceProcess* process : {&scheduler, &storage_process(), &fetcher_process()}) {
    EXPECT_EQ(process->Log().find(KeyBody(service_.key_file)), std::string::npos)
        << process->name();
  }
  StopAndExpectCleanExit(scheduler, SIGTERM);
}

TEST_F(TlsStackTest, CofferctlStatusOverMutualTls) {
  StartFetcher();
  StartStorage();
  scheduler_ = &StartTlsScheduler();
  const std::string cofferctl = RunfilePath("tools/cofferctl/cofferctl");

  std::vector<std::string> with_flags = CofferctlAddresses();
  with_flags.insert(with_flags.end(), {"status", absl::StrCat("--tls_ca=", client_.ca_file),
                                       absl::StrCat("--tls_cert=", client_.cert_file),
                                       absl::StrCat("--tls_key=", client_.key_file)});
  absl::StatusOr<CommandOutput> flagged = RunCommandWith({.binary = cofferctl, .args = with_flags});
  ASSERT_TRUE(flagged.ok()) << flagged.status();
  EXPECT_EQ(flagged->exit_code, 0) << flagged->stdout_text << flagged->stderr_text;
  EXPECT_NE(flagged->stdout_text.find("SERVING"), std::string::npos) << flagged->stdout_text;

  std::vector<std::string> plain = CofferctlAddresses();
  plain.push_back("status");
  absl::StatusOr<CommandOutput> from_env =
      RunCommandWith({.binary = cofferctl,
                      .args = plain,
                      .env = {absl::StrCat("COFFER_TLS_CA=", client_.ca_file),
                              absl::StrCat("COFFER_TLS_CERT=", client_.cert_file),
                              absl::StrCat("COFFER_TLS_KEY=", client_.key_file)}});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->exit_code, 0) << from_env->stdout_text << from_env->stderr_text;

  // Without a client certificate the handshake fails: nothing is SERVING.
  absl::StatusOr<CommandOutput> refused = RunCommandWith({.binary = cofferctl, .args = plain});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_NE(refused->exit_code, 0) << refused->stdout_text;
  StopAndExpectCleanExit(*scheduler_, SIGTERM);
}

}  // namespace
}  // namespace coffer::testing
