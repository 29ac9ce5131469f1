// The integration harness: a GoogleTest fixture that starts the real coffer
// binaries (built by Bazel, declared as the test's data) on free loopback
// ports in temporary directories, waits until each reports SERVING on
// grpc.health.v1, hands the test typed async clients, and at the end stops
// each with SIGTERM and checks that it exited 0.
//
//   class StorageTest : public IntegrationTestBase {};
//   TEST_F(StorageTest, Answers) {
//     ServiceProcess& storage = StartService(Service::kStorage);
//     auto admin = Client<v1::Admin>(storage);
//     auto status = admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, {});
//   }
//
// With UseTls(service_files, client_files) before the first StartService,
// every service serves TLS (mTLS when service_files has a CA) and the
// fixture's clients follow.
//
// The secure suite: with COFFER_TEST_SECURE=1 in the environment (the
// `_secure` twin of every integration test, see integration_test.bzl) the
// fixture makes a CA, a service and a client certificate and a tokens file
// before anything starts, so every service serves mutual TLS and demands a
// bearer token, the scheduler calls the others with its certificate and an
// admin token, and the fixture's clients present theirs: the whole suite
// runs once more with mTLS and tokens on, unchanged.
#ifndef COFFER_TESTS_INTEGRATION_INTEGRATION_TEST_BASE_H_
#define COFFER_TESTS_INTEGRATION_INTEGRATION_TEST_BASE_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "common/client/coffer_client.h"
#include "common/grpc/async_client.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "tests/integration/service_process.h"

namespace coffer::testing {

// The three services, named as the client library names them.
using Service = client::Service;

class IntegrationTestBase : public ::testing::Test {
 public:
  // Whether this run is the secure suite (COFFER_TEST_SECURE=1).
  static bool SecureSuite();
  // For command-line clients a test runs (cofferctl): in the secure suite
  // COFFER_TLS_CA, COFFER_TLS_CERT, COFFER_TLS_KEY and COFFER_TOKEN_FILE
  // naming the live fixture's client certificate and admin token; empty
  // otherwise, and when no fixture lives.
  static std::vector<std::string> ClientEnvironment();

 protected:
  IntegrationTestBase();
  ~IntegrationTestBase() override;
  // Stops every service still running with SIGTERM and expects exit code 0.
  void TearDown() override;

  // Starts `service` with `args` and waits until it is SERVING. Fails the
  // test (fatally) when it cannot start.
  ServiceProcess& StartService(Service service, std::vector<std::string> args = {});

  // Starts `service` as `name` in `directory` with SecurityArgs(service)
  // before `args`, without waiting for health nor keeping it: the test owns
  // the process (a restart on the same data, a start meant to fail).
  absl::StatusOr<std::unique_ptr<ServiceProcess>> Launch(
      Service service, std::string name, std::vector<std::string> args, std::string directory,
      std::vector<std::string> environment = {}) const;

  // Waits until `process` reports `status` ("SERVING", "NOT_SERVING").
  ::testing::AssertionResult WaitForHealth(ServiceProcess& process, const std::string& status,
                                           absl::Duration timeout = absl::Seconds(30));

  // A typed async client of `process`, sharing the fixture's client queue
  // (over TLS after UseTls; with the admin token in the secure suite).
  template <typename GrpcService>
  std::unique_ptr<grpc_util::AsyncClient<GrpcService>> Client(const ServiceProcess& process) {
    auto client = std::make_unique<grpc_util::AsyncClient<GrpcService>>(Channel(process), &queue_);
    if (!client_metadata_.empty()) client->SetDefaultMetadata(client_metadata_);
    return client;
  }
  // A channel to `process` secured as the fixture's clients are (without
  // their token: callers that need it add client_metadata()).
  std::shared_ptr<grpc::Channel> Channel(const ServiceProcess& process) const;
  // What the fixture's clients send with every call: the admin token in the
  // secure suite, nothing otherwise.
  const std::vector<std::pair<std::string, std::string>>& client_metadata() const {
    return client_metadata_;
  }

  // The arguments StartService puts first for `service`: --tls_* after
  // UseTls, and in the secure suite --auth_tokens_file (and for the
  // scheduler --token_file, its own admin token). For processes a test
  // starts itself.
  std::vector<std::string> SecurityArgs(Service service) const;

  // TLS from now on, for the services StartService starts and the fixture's
  // own clients (health checks included). Every service serves the
  // certificate of `service_files`; with a ca_file in them it requires client
  // certificates signed by it (mTLS), and the scheduler calls storage and
  // fetcher with the same files. The fixture's clients use `client_files`
  // (ca_file to verify the services, cert/key presented for mTLS). Fails the
  // test (fatally) when client_files are unusable.
  void UseTls(const grpc_util::TlsFiles& service_files, const grpc_util::TlsFiles& client_files);
  // What the fixture's clients use: plaintext until UseTls.
  const grpc_util::ChannelSecurity& client_security() const { return client_security_; }

  // Stops `process` with `signal` and expects a clean exit (code 0).
  void StopAndExpectCleanExit(ServiceProcess& process, int signal);

  static std::string BinaryPath(Service service);
  static std::string NameOf(Service service);

  const std::string& directory() const { return directory_; }

 private:
  // The secure suite's certificates and tokens (see above); fatal on error.
  void UseSecureSuite();

  std::string directory_;
  std::vector<std::string> tls_args_;
  // Empty outside the secure suite.
  std::string tokens_file_;
  std::string admin_token_file_;
  std::vector<std::pair<std::string, std::string>> client_metadata_;
  grpc_util::ChannelSecurity client_security_;
  grpc_util::ClientQueue queue_{"test-client"};
  std::vector<std::unique_ptr<ServiceProcess>> processes_;
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_INTEGRATION_INTEGRATION_TEST_BASE_H_
