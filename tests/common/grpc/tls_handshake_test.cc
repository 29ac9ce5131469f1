// TLS and mTLS between an in-process AsyncServer and the async client, with
// credentials from tls_config.h: the right certificates get through; a
// plaintext client, a client without a certificate or with one from another
// CA, an expired certificate and a wrong server name are refused at the
// handshake (UNAVAILABLE, the handler never runs).
#include <memory>
#include <string>

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

using grpc_util::AsyncClient;
using grpc_util::ChannelSecurity;
using grpc_util::TlsFiles;
using test::EchoReply;
using test::EchoRequest;
using test::TestService;

class TlsHandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestDirectory("tls-handshake");
    absl::StatusOr<TestCa> ca = TestCa::Create(dir_, "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(*ca);
    absl::StatusOr<TestCa> other_ca = TestCa::Create(dir_, "other-ca");
    ASSERT_TRUE(other_ca.ok()) << other_ca.status();
    other_ca_ = std::make_unique<TestCa>(*other_ca);
  }

  void TearDown() override {
    server_.reset();
    queue_.Shutdown();
  }

  TlsFiles Issue(const TestCa& ca, const std::string& name, IssueOptions options = {}) {
    absl::StatusOr<TlsFiles> files = ca.Issue(name, options);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : TlsFiles{};
  }

  // Serves with `files` (a CA in them: mTLS).
  void Serve(const TlsFiles& files) {
    absl::StatusOr<grpc_util::ServerTransport> transport =
        grpc_util::MakeServerTransport("127.0.0.1:0", files, /*insecure=*/false);
    ASSERT_TRUE(transport.ok()) << transport.status();
    grpc_util::AsyncServer::Options options;
    options.credentials = transport->credentials;
    server_ = std::make_unique<TestServer>(options);
  }

  absl::StatusOr<EchoReply> Echo(const ChannelSecurity& security,
                                 const std::string& host = "127.0.0.1") {
    AsyncClient<TestService> client(
        grpc_util::MakeChannel(absl::StrCat(host, ":", server_->server().port()), security),
        &queue_);
    EchoRequest request;
    request.set_text("over TLS");
    grpc_util::CallOptions options;
    options.timeout = absl::Seconds(10);
    return client.CallBlocking(&TestService::Stub::PrepareAsyncEcho, request, options);
  }

  ChannelSecurity Client(const TlsFiles& files, const std::string& server_name = "") {
    absl::StatusOr<ChannelSecurity> security = grpc_util::MakeChannelSecurity(files, server_name);
    EXPECT_TRUE(security.ok()) << security.status();
    return security.ok() ? *security : ChannelSecurity{};
  }

  std::string dir_;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> other_ca_;
  grpc_util::ClientQueue queue_{"tls-test-client"};
  std::unique_ptr<TestServer> server_;
};

TEST_F(TlsHandshakeTest, MutualTlsWithTheRightCertificatesSucceeds) {
  Serve(Issue(*ca_, "server"));
  absl::StatusOr<EchoReply> reply = Echo(Client(Issue(*ca_, "client")));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->text(), "over TLS");
}

TEST_F(TlsHandshakeTest, OneWayTlsNeedsNoClientCertificate) {
  TlsFiles server = Issue(*ca_, "server");
  server.ca_file.clear();
  Serve(server);
  absl::StatusOr<EchoReply> reply = Echo(Client({.ca_file = ca_->ca_file()}));
  EXPECT_TRUE(reply.ok()) << reply.status();
}

TEST_F(TlsHandshakeTest, PlaintextClientIsRefused) {
  Serve(Issue(*ca_, "server"));
  EXPECT_EQ(Echo(ChannelSecurity{}).status().code(), absl::StatusCode::kUnavailable);
  // The same server answers a proper client: the refusal was the transport.
  EXPECT_TRUE(Echo(Client(Issue(*ca_, "client"))).ok());
}

TEST_F(TlsHandshakeTest, ClientWithoutCertificateIsRefusedByMutualTls) {
  Serve(Issue(*ca_, "server"));
  EXPECT_EQ(Echo(Client({.ca_file = ca_->ca_file()})).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(TlsHandshakeTest, ClientCertificateFromAnotherCaIsRefused) {
  Serve(Issue(*ca_, "server"));
  // Trusts the right CA for the server, presents a certificate of another.
  TlsFiles stranger = Issue(*other_ca_, "stranger");
  stranger.ca_file = ca_->ca_file();
  EXPECT_EQ(Echo(Client(stranger)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(server_->service().cancellations(), 0);
}

TEST_F(TlsHandshakeTest, ServerCertificateFromAnotherCaIsRefused) {
  TlsFiles server = Issue(*other_ca_, "server");
  server.ca_file.clear();
  Serve(server);
  EXPECT_EQ(Echo(Client({.ca_file = ca_->ca_file()})).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(TlsHandshakeTest, ExpiredServerCertificateIsRefused) {
  Serve(Issue(*ca_, "server", {.expired = true}));
  EXPECT_EQ(Echo(Client(Issue(*ca_, "client"))).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(TlsHandshakeTest, ExpiredClientCertificateIsRefused) {
  Serve(Issue(*ca_, "server"));
  EXPECT_EQ(Echo(Client(Issue(*ca_, "client", {.expired = true}))).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(TlsHandshakeTest, ServerNameIsCheckedAndCanBeOverridden) {
  // The certificate names "storage", localhost and 127.0.0.1.
  Serve(Issue(*ca_, "server", {.dns_names = {"storage"}}));
  TlsFiles client = Issue(*ca_, "client");
  EXPECT_TRUE(Echo(Client(client)).ok());
  EXPECT_TRUE(Echo(Client(client, "storage")).ok());
  EXPECT_EQ(Echo(Client(client, "fetcher")).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace coffer::testing
