#include "common/grpc/tls_config.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/secret/wipe.h"

namespace coffer::grpc_util {
namespace {

using grpc::experimental::FileWatcherCertificateProvider;

// A file's contents, wiped when it goes: it may hold a private key.
class SecretText {
 public:
  SecretText() = default;
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText() { secret::WipeString(text_); }
  std::string& text() { return text_; }

 private:
  std::string text_;
};

absl::Status ReadFile(const std::string& path, const char* what, SecretText& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path));
  out.text().assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path));
  return absl::OkStatus();
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The first certificate of a PEM file; OpenSSL's error queue is cleared
// either way (its messages could quote nothing secret, but would linger).
absl::StatusOr<X509Ptr> FirstCertificate(const std::string& path, const char* what) {
  SecretText pem;
  if (absl::Status read = ReadFile(path, what, pem); !read.ok()) return read;
  BioPtr bio = MemoryBio(pem.text());
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, " holds no PEM certificate"));
  }
  return cert;
}

absl::Status CheckKeyMatches(const TlsFiles& files, X509* cert) {
  SecretText pem;
  if (absl::Status read = ReadFile(files.key_file, "--tls_key", pem); !read.ok()) return read;
  BioPtr bio = MemoryBio(pem.text());
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: ", files.key_file, " holds no unencrypted PEM private key"));
  }
  const bool matches = X509_check_private_key(cert, key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key: ", files.key_file, " is not the key of --tls_cert ", files.cert_file));
  }
  return absl::OkStatus();
}

unsigned int RefreshSeconds(absl::Duration interval) {
  // gRPC counts whole seconds; less than one would mean "never".
  const int64_t seconds = absl::ToInt64Seconds(interval);
  return seconds < 1 ? 1u : static_cast<unsigned int>(seconds);
}

std::shared_ptr<FileWatcherCertificateProvider> Provider(const TlsFiles& files,
                                                         absl::Duration refresh_interval) {
  return std::make_shared<FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.ca_file, RefreshSeconds(refresh_interval));
}

// The host part of HOST:PORT, [HOST]:PORT or HOST.
absl::string_view HostOf(absl::string_view address) {
  if (absl::ConsumePrefix(&address, "[")) {
    const size_t close = address.find(']');
    return close == absl::string_view::npos ? address : address.substr(0, close);
  }
  // More than one colon without brackets: a bare IPv6 address.
  if (address.find(':') != address.rfind(':')) return address;
  const size_t colon = address.rfind(':');
  return colon == absl::string_view::npos ? address : address.substr(0, colon);
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together: give both or neither");
  }
  if (!files.cert_file.empty()) {
    absl::StatusOr<X509Ptr> cert = FirstCertificate(files.cert_file, "--tls_cert");
    if (!cert.ok()) return cert.status();
    if (absl::Status key = CheckKeyMatches(files, cert->get()); !key.ok()) return key;
  }
  if (!files.ca_file.empty()) {
    absl::StatusOr<X509Ptr> ca = FirstCertificate(files.ca_file, "--tls_ca");
    if (!ca.ok()) return ca.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerTransport> MakeServerTransport(const std::string& listen_address,
                                                    const TlsFiles& files, bool insecure,
                                                    absl::Duration refresh_interval) {
  if (!files.has_identity()) {
    if (!files.ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_ca requires --tls_cert and --tls_key: a server checks client certificates "
          "only over TLS, with a certificate of its own");
    }
    const bool loopback = IsLoopbackAddress(listen_address);
    if (!loopback && !insecure) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--listen=", listen_address,
          " is not a loopback address and would serve plaintext: give --tls_cert and "
          "--tls_key (and --tls_ca for mTLS), or --insecure to allow plaintext there"));
    }
    return ServerTransport{
        .credentials = grpc::InsecureServerCredentials(),
        .description = loopback ? "plaintext on loopback (no --tls_cert; development only)"
                                : "plaintext on a non-loopback address (--insecure)",
        .insecure_exposed = !loopback,
    };
  }
  if (absl::Status checked = CheckTlsFiles(files); !checked.ok()) return checked;

  grpc::experimental::TlsServerCredentialsOptions options(Provider(files, refresh_interval));
  options.watch_identity_key_cert_pairs();
  const bool mutual = !files.ca_file.empty();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  std::string description = absl::StrCat(
      mutual ? "mTLS" : "TLS", " (certificate ", files.cert_file,
      mutual ? absl::StrCat("; client certificates signed by ", files.ca_file, " required") : "",
      "; files re-read every ", RefreshSeconds(refresh_interval), "s)");
  return ServerTransport{
      .credentials = grpc::experimental::TlsServerCredentials(options),
      .description = std::move(description),
  };
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeTlsChannelCredentials(
    const TlsFiles& files, absl::Duration refresh_interval) {
  if (files.ca_file.empty()) {
    return absl::InvalidArgumentError("a TLS client needs --tls_ca to verify the server against");
  }
  if (absl::Status checked = CheckTlsFiles(files); !checked.ok()) return checked;
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(files, refresh_interval));
  options.watch_root_certs();
  if (files.has_identity()) options.watch_identity_key_cert_pairs();
  // Verifying the chain, and the name (gRPC's default verifier when none is
  // set), are the defaults; said here so that nobody has to look it up.
  options.set_verify_server_certs(true);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::experimental::TlsCredentials(options);
  if (credentials == nullptr) return absl::InternalError("gRPC refused the TLS channel options");
  return credentials;
}

bool IsLoopbackAddress(absl::string_view listen_address) {
  if (absl::StartsWith(listen_address, "unix:") ||
      absl::StartsWith(listen_address, "unix-abstract:")) {
    return true;
  }
  std::string host = absl::AsciiStrToLower(HostOf(listen_address));
  if (host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
  // 127.0.0.0/8, written as four decimal numbers.
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() != 4 || parts[0] != "127") return false;
  for (absl::string_view part : parts) {
    int value = 0;
    if (part.empty() || !absl::SimpleAtoi(part, &value) || value < 0 || value > 255) return false;
  }
  return true;
}

}  // namespace coffer::grpc_util
