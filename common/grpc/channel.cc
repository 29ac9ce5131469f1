#include "common/grpc/channel.h"

#include "common/grpc/message_size.h"

namespace coffer::grpc_util {

absl::StatusOr<ChannelSecurity> MakeChannelSecurity(const TlsFiles& files,
                                                    const std::string& server_name,
                                                    absl::Duration refresh_interval) {
  if (files.ca_file.empty()) {
    if (files.has_identity()) {
      return absl::InvalidArgumentError(
          "--tls_cert/--tls_key without --tls_ca: a client uses TLS only with a CA to verify "
          "the server against");
    }
    return ChannelSecurity{};
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeTlsChannelCredentials(files, refresh_interval);
  if (!credentials.ok()) return credentials.status();
  return ChannelSecurity{.credentials = *std::move(credentials), .server_name = server_name};
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           std::shared_ptr<grpc::ChannelCredentials> credentials) {
  return MakeChannel(target, ChannelSecurity{.credentials = std::move(credentials)});
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           const ChannelSecurity& security) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // Services talk to each other for long stretches: keep connections alive
  // and notice dead peers.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // Calls spread over every address the target resolves to (a Kubernetes
  // headless Service: one per replica) rather than all going to the first
  // (gRPC's default pick_first). One address: the same as pick_first.
  args.SetLoadBalancingPolicyName("round_robin");
  // A peer that was down is dialled again at most 10 s apart (gRPC's default
  // backoff grows to 120 s): a service back after an outage is used again
  // within seconds, not minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10000);
  std::shared_ptr<grpc::ChannelCredentials> credentials = security.credentials;
  if (credentials == nullptr) {
    credentials = grpc::InsecureChannelCredentials();
  } else if (!security.server_name.empty()) {
    args.SetSslTargetNameOverride(security.server_name);
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

}  // namespace coffer::grpc_util
