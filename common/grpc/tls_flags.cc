#include "common/grpc/tls_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of this service: served over TLS (with --tls_key), and "
          "presented as the client certificate on its calls to other services (mTLS); "
          "re-read every 5s, so replacing the file rotates it");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls_cert (a file path; re-read every 5s)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle: clients must present a certificate signed by it (mTLS), and calls to "
          "other services use TLS verifying them against it; re-read every 5s");

namespace coffer::grpc_util {

TlsFiles TlsFilesFromFlags() {
  return {.cert_file = absl::GetFlag(FLAGS_tls_cert),
          .key_file = absl::GetFlag(FLAGS_tls_key),
          .ca_file = absl::GetFlag(FLAGS_tls_ca)};
}

}  // namespace coffer::grpc_util
