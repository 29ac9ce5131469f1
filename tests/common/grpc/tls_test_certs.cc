#include "tests/common/grpc/tls_test_certs.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace coffer::testing {
namespace {

struct Free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* cert) const { X509_free(cert); }
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;

absl::Status OpensslError(const std::string& what) {
  char buffer[256] = {};
  ERR_error_string_n(ERR_get_error(), buffer, sizeof(buffer));
  ERR_clear_error();
  return absl::InternalError(absl::StrCat(what, ": ", buffer));
}

// Writes with `write` to PATH.tmp, then renames it to PATH.
template <typename Write>
absl::Status WriteAtomically(const std::string& path, Write write) {
  const std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  {
    BioPtr bio(BIO_new_file(temporary.c_str(), "w"));
    if (bio == nullptr) return OpensslError(absl::StrCat("cannot write ", temporary));
    if (write(bio.get()) != 1) return OpensslError(absl::StrCat("cannot write ", temporary));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", temporary));
  }
  return absl::OkStatus();
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) return OpensslError(absl::StrCat("extension ", value));
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) return OpensslError("X509_add_ext");
  return absl::OkStatus();
}

struct Certificate {
  CertPtr cert;
  KeyPtr key;
};

// A certificate for `name` with a new key, signed by `issuer`/`issuer_key`
// (null: self-signed, a CA).
absl::StatusOr<Certificate> MakeCertificate(const std::string& name, X509* issuer,
                                            EVP_PKEY* issuer_key,
                                            const std::vector<std::string>& dns_names,
                                            bool expired) {
  Certificate made{CertPtr(X509_new()), KeyPtr(EVP_EC_gen("P-256"))};
  if (made.cert == nullptr || made.key == nullptr) return OpensslError("new certificate");
  X509* cert = made.cert.get();
  X509_set_version(cert, 2);
  unsigned char serial[8];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* number = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert));
  BN_free(number);
  constexpr long kDay = 24 * 3600;
  X509_gmtime_adj(X509_getm_notBefore(cert), expired ? -2 * kDay : -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), expired ? -kDay : 30 * kDay);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("coffer tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  const bool is_ca = issuer == nullptr;
  X509_set_issuer_name(cert, is_ca ? subject : X509_get_subject_name(issuer));
  X509_set_pubkey(cert, made.key.get());
  X509* signer = is_ca ? cert : issuer;
  absl::Status status = AddExtension(cert, signer, NID_subject_key_identifier, "hash");
  if (is_ca) {
    if (status.ok()) status = AddExtension(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    if (status.ok())
      status = AddExtension(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    std::vector<std::string> names;
    for (const std::string& dns : dns_names) names.push_back(absl::StrCat("DNS:", dns));
    names.insert(names.end(), {"DNS:localhost", "IP:127.0.0.1", "IP:::1"});
    if (status.ok()) status = AddExtension(cert, signer, NID_authority_key_identifier, "keyid");
    if (status.ok())
      status = AddExtension(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    if (status.ok()) {
      status =
          AddExtension(cert, signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    }
    if (status.ok())
      status = AddExtension(cert, signer, NID_ext_key_usage, "serverAuth,clientAuth");
    if (status.ok())
      status = AddExtension(cert, signer, NID_subject_alt_name, absl::StrJoin(names, ","));
  }
  if (!status.ok()) return status;
  if (X509_sign(cert, is_ca ? made.key.get() : issuer_key, EVP_sha256()) == 0) {
    return OpensslError("X509_sign");
  }
  return made;
}

absl::Status WritePair(const Certificate& made, const std::string& cert_file,
                       const std::string& key_file) {
  // The key first: a server re-reading between the two sees a mismatched
  // pair, which gRPC declines, rather than a new certificate with an old key.
  absl::Status status = WriteAtomically(key_file, [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, made.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!status.ok()) return status;
  return WriteAtomically(cert_file,
                         [&](BIO* bio) { return PEM_write_bio_X509(bio, made.cert.get()); });
}

template <typename T, typename Read>
absl::StatusOr<std::unique_ptr<T, Free>> ReadPem(const std::string& path, Read read) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) return OpensslError(absl::StrCat("cannot read ", path));
  std::unique_ptr<T, Free> value(read(bio.get(), nullptr, nullptr, nullptr));
  if (value == nullptr) return OpensslError(absl::StrCat("cannot parse ", path));
  return value;
}

}  // namespace

absl::StatusOr<TestCa> TestCa::Create(const std::string& directory, const std::string& name) {
  absl::StatusOr<Certificate> made = MakeCertificate(name, nullptr, nullptr, {}, false);
  if (!made.ok()) return made.status();
  TestCa ca;
  ca.directory_ = directory;
  ca.ca_file_ = absl::StrCat(directory, "/", name, ".pem");
  ca.ca_key_file_ = absl::StrCat(directory, "/", name, ".key");
  if (absl::Status written = WritePair(*made, ca.ca_file_, ca.ca_key_file_); !written.ok()) {
    return written;
  }
  return ca;
}

absl::StatusOr<grpc_util::TlsFiles> TestCa::Issue(const std::string& name,
                                                  const IssueOptions& options) const {
  absl::StatusOr<CertPtr> ca_cert = ReadPem<X509>(ca_file_, PEM_read_bio_X509);
  if (!ca_cert.ok()) return ca_cert.status();
  absl::StatusOr<KeyPtr> ca_key = ReadPem<EVP_PKEY>(ca_key_file_, PEM_read_bio_PrivateKey);
  if (!ca_key.ok()) return ca_key.status();
  std::vector<std::string> dns_names = options.dns_names;
  if (dns_names.empty()) dns_names.push_back(name);
  absl::StatusOr<Certificate> made =
      MakeCertificate(name, ca_cert->get(), ca_key->get(), dns_names, options.expired);
  if (!made.ok()) return made.status();
  const std::string directory = options.directory.empty() ? directory_ : options.directory;
  grpc_util::TlsFiles files{.cert_file = absl::StrCat(directory, "/", name, ".pem"),
                            .key_file = absl::StrCat(directory, "/", name, ".key"),
                            .ca_file = ca_file_};
  if (absl::Status written = WritePair(*made, files.cert_file, files.key_file); !written.ok()) {
    return written;
  }
  return files;
}

}  // namespace coffer::testing
