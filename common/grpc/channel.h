// Channels to other coffer services, plaintext or TLS (certificate files
// and their reloading: tls_config.h).
//
//   ASSIGN_OR_RETURN(ChannelSecurity security,
//                    MakeChannelSecurity({.cert_file = "scheduler.pem",
//                                         .key_file = "scheduler.key",
//                                         .ca_file = "ca.pem"}));
//   std::shared_ptr<grpc::Channel> channel = MakeChannel("storage:50052", security);
#ifndef COFFER_COMMON_GRPC_CHANNEL_H_
#define COFFER_COMMON_GRPC_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

#include "common/grpc/tls_config.h"

namespace coffer::grpc_util {

// What secures a channel.
struct ChannelSecurity {
  // Null: plaintext, which coffer uses only on loopback.
  std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr;
  // The name checked against the server's certificate instead of the host of
  // the target (a certificate issued for "storage" reached as 10.0.0.7:50052).
  // Empty: the host of the target. Ignored without credentials.
  std::string server_name = "";

  bool tls() const { return credentials != nullptr; }
};

// Client security from `files`: no CA and no certificate: plaintext (null
// credentials). A CA: TLS verifying the server against it, checking the name
// `server_name` (empty: the host of the target); with a certificate and key
// as well, presented for mTLS. A certificate without a CA: INVALID_ARGUMENT
// (it would silently go out in plaintext). Bad files: INVALID_ARGUMENT
// naming the path (CheckTlsFiles).
[[nodiscard]] absl::StatusOr<ChannelSecurity> MakeChannelSecurity(
    const TlsFiles& files, const std::string& server_name = "",
    absl::Duration refresh_interval = kCertificateRefreshInterval);

// A channel to `target` (HOST:PORT) that receives messages up to
// kMaxMessageBytes (message_size.h) and spreads calls round robin over the
// addresses the target resolves to. Null credentials: plaintext.
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

// The same, secured as `security` says.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           const ChannelSecurity& security);

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_CHANNEL_H_
