// Certificate rotation: a running server re-reads its certificate files and
// serves the replacement to new connections, without a restart. Polls with a
// generous deadline; the refresh interval is shortened to one second here.
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "common/grpc/async_client.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/tls_config.h"
#include "tests/common/grpc/test_server.h"
#include "tests/common/grpc/tls_test_certs.h"
#include "tests/integration/service_process.h"

namespace coffer::testing {
namespace {

using grpc_util::TlsFiles;
using test::EchoReply;
using test::EchoRequest;
using test::TestService;

constexpr absl::Duration kRefresh = absl::Seconds(1);

class TlsRotationTest : public ::testing::Test {
 protected:
  void TearDown() override {
    server_.reset();
    queue_.Shutdown();
  }

  // An Echo over a new channel with new credentials, so no connection from
  // an earlier attempt is reused.
  absl::Status EchoWith(const TlsFiles& client_files) {
    absl::StatusOr<grpc_util::ChannelSecurity> security =
        grpc_util::MakeChannelSecurity(client_files, "", kRefresh);
    if (!security.ok()) return security.status();
    grpc_util::AsyncClient<TestService> client(
        grpc_util::MakeChannel(absl::StrCat("127.0.0.1:", server_->server().port()), *security),
        &queue_);
    grpc_util::CallOptions options;
    options.timeout = absl::Seconds(5);
    return client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, EchoRequest(), options)
        .status();
  }

  // Calls until one gets through; false after `timeout`.
  bool EventuallySucceeds(const TlsFiles& client_files, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (EchoWith(client_files).ok()) return true;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return false;
  }

  grpc_util::ClientQueue queue_{"tls-rotation-client"};
  std::unique_ptr<TestServer> server_;
};

TEST_F(TlsRotationTest, ReplacedServerCertificateIsServedWithoutRestart) {
  const std::string dir = MakeTestDirectory("tls-rotation");
  absl::StatusOr<TestCa> old_ca = TestCa::Create(dir, "old-ca");
  absl::StatusOr<TestCa> new_ca = TestCa::Create(dir, "new-ca");
  ASSERT_TRUE(old_ca.ok() && new_ca.ok());
  absl::StatusOr<TlsFiles> served = old_ca->Issue("server");
  ASSERT_TRUE(served.ok()) << served.status();
  served->ca_file.clear();  // one-way TLS: only the server's certificate moves

  absl::StatusOr<grpc_util::ServerTransport> transport =
      grpc_util::MakeServerTransport("127.0.0.1:0", *served, false, kRefresh);
  ASSERT_TRUE(transport.ok()) << transport.status();
  grpc_util::AsyncServer::Options options;
  options.credentials = transport->credentials;
  server_ = std::make_unique<TestServer>(options);

  const TlsFiles trusts_old{.ca_file = old_ca->ca_file()};
  const TlsFiles trusts_new{.ca_file = new_ca->ca_file()};
  ASSERT_TRUE(EchoWith(trusts_old).ok());
  ASSERT_EQ(EchoWith(trusts_new).code(), absl::StatusCode::kUnavailable);

  // The same paths, a certificate from the new CA.
  absl::StatusOr<TlsFiles> rotated = new_ca->Issue("server");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_EQ(rotated->cert_file, served->cert_file);

  EXPECT_TRUE(EventuallySucceeds(trusts_new, absl::Seconds(60)))
      << "the server never served the rotated certificate";
  // And the old one is gone for new connections.
  EXPECT_EQ(EchoWith(trusts_old).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace coffer::testing
