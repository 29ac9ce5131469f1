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
#ifndef COFFER_TESTS_INTEGRATION_INTEGRATION_TEST_BASE_H_
#define COFFER_TESTS_INTEGRATION_INTEGRATION_TEST_BASE_H_

#include <map>
#include <memory>
#include <string>
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
 protected:
  IntegrationTestBase();
  // Stops every service still running with SIGTERM and expects exit code 0.
  void TearDown() override;

  // Starts `service` with `args` and waits until it is SERVING. Fails the
  // test (fatally) when it cannot start.
  ServiceProcess& StartService(Service service, std::vector<std::string> args = {});

  // Waits until `process` reports `status` ("SERVING", "NOT_SERVING").
  ::testing::AssertionResult WaitForHealth(ServiceProcess& process, const std::string& status,
                                           absl::Duration timeout = absl::Seconds(30));

  // A typed async client of `process`, sharing the fixture's client queue
  // (over TLS after UseTls).
  template <typename GrpcService>
  std::unique_ptr<grpc_util::AsyncClient<GrpcService>> Client(const ServiceProcess& process) {
    return std::make_unique<grpc_util::AsyncClient<GrpcService>>(
        grpc_util::MakeChannel(process.address(), client_security_), &queue_);
  }

  // TLS from now on, for the services StartService starts and the fixture's
  // own clients (health checks included). Every service serves the
  // certificate of `service_files`; with a ca_file in them it requires client
  // certificates signed by it (mTLS), and the scheduler calls storage and
  // fetcher with the same files. The fixture's clients use `client_files`
  // (ca_file to verify the services, cert/key presented for mTLS). Fails the
  // test (fatally) when client_files are unusable.
  void UseTls(const grpc_util::TlsFiles& service_files, const grpc_util::TlsFiles& client_files);
  // The --tls_* arguments StartService adds (empty before UseTls), for
  // processes a test starts itself.
  const std::vector<std::string>& tls_args() const { return tls_args_; }
  // What the fixture's clients use: plaintext until UseTls.
  const grpc_util::ChannelSecurity& client_security() const { return client_security_; }

  // Stops `process` with `signal` and expects a clean exit (code 0).
  void StopAndExpectCleanExit(ServiceProcess& process, int signal);

  static std::string BinaryPath(Service service);
  static std::string NameOf(Service service);

  const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
  std::vector<std::string> tls_args_;
  grpc_util::ChannelSecurity client_security_;
  grpc_util::ClientQueue queue_{"test-client"};
  std::vector<std::unique_ptr<ServiceProcess>> processes_;
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_INTEGRATION_INTEGRATION_TEST_BASE_H_
