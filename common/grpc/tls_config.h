// Transport security of coffer's gRPC servers and channels: TLS and mutual
// TLS from PEM files that gRPC re-reads while the process runs, so replacing
// the files rotates a certificate without a restart.
//
// Built on gRPC 1.51's experimental TLS API: a FileWatcherCertificateProvider
// re-reads the files every `refresh_interval` (kCertificateRefreshInterval
// unless a test asks for less) and hands new certificates to the handshakes
// that follow; connections already open keep the certificate they began with.
// A certificate and a key that do not match (one file replaced, the other not
// yet) are not taken: gRPC keeps the previous pair until both agree.
//
//   // A server (ServiceHost does this from --listen, --tls_* and --insecure):
//   ASSIGN_OR_RETURN(ServerTransport transport,
//                    MakeServerTransport(listen, {.cert_file = "storage.pem",
//                                                 .key_file = "storage.key",
//                                                 .ca_file = "ca.pem"},
//                                        /*insecure=*/false));
//   server_options.credentials = transport.credentials;
//
//   // A client (the scheduler, cofferctl): TLS once a CA is given
//   // (MakeChannelSecurity, channel.h, builds on MakeTlsChannelCredentials).
//   ASSIGN_OR_RETURN(ChannelSecurity security,
//                    MakeChannelSecurity({.cert_file = "scheduler.pem",
//                                         .key_file = "scheduler.key",
//                                         .ca_file = "ca.pem"}));
//   auto channel = MakeChannel("storage:50052", security);
//
// Only file paths pass through here and into logs and errors; the contents
// (private keys above all) are read to be checked and then wiped.
#ifndef COFFER_COMMON_GRPC_TLS_CONFIG_H_
#define COFFER_COMMON_GRPC_TLS_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

namespace coffer::grpc_util {

// How often servers and clients re-read their certificate files: a rotated
// certificate is in use within about this long.
inline constexpr absl::Duration kCertificateRefreshInterval = absl::Seconds(5);

// PEM files, by path. Certificate and key go together (both or neither).
struct TlsFiles {
  // This process's certificate chain: what a server serves, what a client
  // presents for mTLS.
  std::string cert_file = "";
  // The private key of cert_file.
  std::string key_file = "";
  // CA bundle. A server with one requires client certificates signed by it
  // (mTLS); a client with one verifies the server against it, and uses TLS
  // only when it is set.
  std::string ca_file = "";

  bool has_identity() const { return !cert_file.empty() || !key_file.empty(); }
};

// Checks what can be checked before gRPC gets the files, so a mistake is a
// startup error rather than failed handshakes later: both or neither of
// cert_file and key_file; each file given is readable PEM; the key belongs
// to the certificate; the CA file holds at least one certificate.
// INVALID_ARGUMENT naming the flag-like field and the path, never contents.
[[nodiscard]] absl::Status CheckTlsFiles(const TlsFiles& files);

// How a server listens: credentials for AsyncServer::Options and a line for
// the log that says which transport was chosen.
struct ServerTransport {
  std::shared_ptr<grpc::ServerCredentials> credentials = nullptr;  // never null
  // "TLS (certificate storage.pem; files re-read every 5s)", "mTLS (...)",
  // "plaintext on loopback".
  std::string description = "";
  // True for plaintext on a non-loopback address (--insecure): worth a warning.
  bool insecure_exposed = false;
};

// The transport for `listen_address`:
// - files with a certificate: TLS; with a CA as well, mTLS (a client without
//   a certificate signed by the CA is refused at the handshake);
// - no files: plaintext, allowed on a loopback address (IsLoopbackAddress),
//   elsewhere only with `insecure`; otherwise FAILED_PRECONDITION saying
//   which flags would fix it;
// - a CA without a certificate: INVALID_ARGUMENT (mTLS needs the server's own
//   certificate; silently serving plaintext would hide the mistake).
[[nodiscard]] absl::StatusOr<ServerTransport> MakeServerTransport(
    const std::string& listen_address, const TlsFiles& files, bool insecure,
    absl::Duration refresh_interval = kCertificateRefreshInterval);

// TLS channel credentials from `files`, which must name a CA (the server is
// verified against it, and its certificate must carry the name the channel
// checks); with a certificate and key as well, they are presented for mTLS.
// Most callers want MakeChannelSecurity (channel.h), which also decides
// between plaintext and TLS.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeTlsChannelCredentials(
    const TlsFiles& files, absl::Duration refresh_interval = kCertificateRefreshInterval);

// Whether a listen address (HOST:PORT, [IPv6]:PORT, unix:PATH) is reachable
// only from this machine: 127.0.0.0/8, ::1, localhost, and Unix sockets.
// 0.0.0.0, [::], an empty host and other names are not.
bool IsLoopbackAddress(absl::string_view listen_address);

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_TLS_CONFIG_H_
