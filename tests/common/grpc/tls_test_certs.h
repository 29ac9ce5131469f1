// Certificates for TLS tests, made in-process with OpenSSL's library: a CA
// per TestCa, and certificates it signs the way tools/devcerts does (EC
// P-256, serverAuth and clientAuth, SANs localhost, 127.0.0.1, ::1 and the
// names given), optionally already expired. Another TestCa is "another CA".
// Files are written beside and renamed into place, so a server re-reading
// them (a rotation) never sees half of one.
//
//   ASSERT_OK_AND_ASSIGN(TestCa ca, TestCa::Create(dir, "ca"));
//   ASSERT_OK_AND_ASSIGN(grpc_util::TlsFiles server, ca.Issue("server"));
//   // server.cert_file, server.key_file, and server.ca_file == ca.ca_file()
#ifndef COFFER_TESTS_COMMON_GRPC_TLS_TEST_CERTS_H_
#define COFFER_TESTS_COMMON_GRPC_TLS_TEST_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/grpc/tls_config.h"

namespace coffer::testing {

struct IssueOptions {
  // DNS names besides localhost (default: the certificate's name).
  std::vector<std::string> dns_names = {};
  // Valid from two days ago until yesterday.
  bool expired = false;
  // Where to write NAME.pem and NAME.key (empty: the CA's directory).
  std::string directory = "";
};

class TestCa {
 public:
  // A new self-signed CA written to DIR/NAME.pem and DIR/NAME.key.
  static absl::StatusOr<TestCa> Create(const std::string& directory, const std::string& name);

  const std::string& ca_file() const { return ca_file_; }

  // A certificate NAME.pem with key NAME.key signed by this CA; answers the
  // paths with ca_file set to this CA. Replaces files of the same name.
  absl::StatusOr<grpc_util::TlsFiles> Issue(const std::string& name,
                                            const IssueOptions& options = {}) const;

 private:
  std::string directory_;
  std::string ca_file_;
  std::string ca_key_file_;
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_COMMON_GRPC_TLS_TEST_CERTS_H_
