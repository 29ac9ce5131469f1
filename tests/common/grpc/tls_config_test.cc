// MakeServerTransport, MakeChannelSecurity, CheckTlsFiles and
// IsLoopbackAddress without a handshake: which combinations of files and
// addresses are accepted, and that refusals name paths but never contents.
#include "common/grpc/tls_config.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"

#include "common/grpc/channel.h"
#include "tests/common/grpc/tls_test_certs.h"
#include "tests/integration/service_process.h"

namespace coffer::testing {
namespace {

using grpc_util::CheckTlsFiles;
using grpc_util::IsLoopbackAddress;
using grpc_util::MakeChannelSecurity;
using grpc_util::MakeServerTransport;
using grpc_util::TlsFiles;

class TlsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTestDirectory("tls-config");
    absl::StatusOr<TestCa> ca = TestCa::Create(dir_, "ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(*ca);
    absl::StatusOr<TlsFiles> server = ca_->Issue("server");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
  }

  std::string dir_;
  std::unique_ptr<TestCa> ca_;
  TlsFiles server_;
};

TEST(IsLoopbackAddressTest, OnlyThisMachine) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:50052"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:50052"));
  EXPECT_TRUE(IsLoopbackAddress("LOCALHOST:1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:50052"));
  EXPECT_TRUE(IsLoopbackAddress("unix:/run/coffer.sock"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50052"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:50052"));
  EXPECT_FALSE(IsLoopbackAddress(":50052"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.7:50052"));
  EXPECT_FALSE(IsLoopbackAddress("storage:50052"));
  EXPECT_FALSE(IsLoopbackAddress("127.0.0.1.example.com:50052"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:50052"));
}

TEST_F(TlsConfigTest, PlaintextOnlyOnLoopbackUnlessInsecure) {
  absl::StatusOr<grpc_util::ServerTransport> loopback =
      MakeServerTransport("127.0.0.1:0", {}, /*insecure=*/false);
  ASSERT_TRUE(loopback.ok()) << loopback.status();
  EXPECT_NE(loopback->credentials, nullptr);
  EXPECT_NE(loopback->description.find("plaintext on loopback"), std::string::npos);
  EXPECT_FALSE(loopback->insecure_exposed);

  absl::StatusOr<grpc_util::ServerTransport> exposed =
      MakeServerTransport("0.0.0.0:50052", {}, /*insecure=*/false);
  EXPECT_EQ(exposed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(exposed.status().message().find("--insecure"), std::string::npos);
  EXPECT_NE(exposed.status().message().find("--tls_cert"), std::string::npos);

  absl::StatusOr<grpc_util::ServerTransport> allowed =
      MakeServerTransport("0.0.0.0:50052", {}, /*insecure=*/true);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(allowed->insecure_exposed);
}

TEST_F(TlsConfigTest, TlsAndMutualTlsAnywhere) {
  TlsFiles tls = server_;
  tls.ca_file.clear();
  absl::StatusOr<grpc_util::ServerTransport> one_way =
      MakeServerTransport("0.0.0.0:0", tls, /*insecure=*/false);
  ASSERT_TRUE(one_way.ok()) << one_way.status();
  EXPECT_EQ(one_way->description.rfind("TLS (", 0), 0u) << one_way->description;

  absl::StatusOr<grpc_util::ServerTransport> mutual =
      MakeServerTransport("0.0.0.0:0", server_, /*insecure=*/false);
  ASSERT_TRUE(mutual.ok()) << mutual.status();
  EXPECT_EQ(mutual->description.rfind("mTLS (", 0), 0u) << mutual->description;
  EXPECT_FALSE(mutual->insecure_exposed);
}

TEST_F(TlsConfigTest, CaWithoutCertificateIsRefusedByServer) {
  absl::StatusOr<grpc_util::ServerTransport> transport =
      MakeServerTransport("127.0.0.1:0", {.ca_file = server_.ca_file}, false);
  EXPECT_EQ(transport.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsConfigTest, ClientUsesTlsOnlyWithCa) {
  absl::StatusOr<grpc_util::ChannelSecurity> plaintext = MakeChannelSecurity({});
  ASSERT_TRUE(plaintext.ok());
  EXPECT_FALSE(plaintext->tls());

  absl::StatusOr<grpc_util::ChannelSecurity> verify_only =
      MakeChannelSecurity({.ca_file = server_.ca_file}, "storage");
  ASSERT_TRUE(verify_only.ok()) << verify_only.status();
  EXPECT_TRUE(verify_only->tls());
  EXPECT_EQ(verify_only->server_name, "storage");

  absl::StatusOr<grpc_util::ChannelSecurity> mutual = MakeChannelSecurity(server_);
  ASSERT_TRUE(mutual.ok()) << mutual.status();
  EXPECT_TRUE(mutual->tls());

  // A certificate without a CA would go out in plaintext: refused.
  TlsFiles no_ca = server_;
  no_ca.ca_file.clear();
  EXPECT_EQ(MakeChannelSecurity(no_ca).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsConfigTest, BadFilesAreStartupErrorsThatNameOnlyPaths) {
  EXPECT_TRUE(CheckTlsFiles(server_).ok());
  EXPECT_TRUE(CheckTlsFiles({}).ok());

  EXPECT_EQ(CheckTlsFiles({.cert_file = server_.cert_file}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckTlsFiles({.key_file = server_.key_file}).code(),
            absl::StatusCode::kInvalidArgument);

  absl::Status missing = CheckTlsFiles({.cert_file = dir_ + "/missing.pem", .key_file = "x"});
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("missing.pem"), std::string::npos) << missing;

  // The key of another certificate.
  absl::StatusOr<TlsFiles> other = ca_->Issue("other");
  ASSERT_TRUE(other.ok()) << other.status();
  absl::Status mismatch =
      CheckTlsFiles({.cert_file = server_.cert_file, .key_file = other->key_file});
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.message().find("other.key"), std::string::npos) << mismatch;
  EXPECT_EQ(mismatch.message().find("PRIVATE KEY"), std::string::npos) << mismatch;

  // A key where the certificate should be: no contents in the message.
  absl::Status swapped =
      CheckTlsFiles({.cert_file = server_.key_file, .key_file = server_.key_file});
  EXPECT_EQ(swapped.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(swapped.message().find("PRIVATE KEY"), std::string::npos) << swapped;
  EXPECT_EQ(swapped.message().find("BEGIN"), std::string::npos) << swapped;

  std::ofstream(dir_ + "/empty-ca.pem") << "not a certificate\n";
  EXPECT_EQ(CheckTlsFiles({.ca_file = dir_ + "/empty-ca.pem"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeServerTransport("127.0.0.1:0",
                                {.cert_file = server_.cert_file,
                                 .key_file = server_.key_file,
                                 .ca_file = dir_ + "/empty-ca.pem"},
                                false)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::testing
