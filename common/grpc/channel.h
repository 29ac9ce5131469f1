// Channels to other coffer services.
#ifndef COFFER_COMMON_GRPC_CHANNEL_H_
#define COFFER_COMMON_GRPC_CHANNEL_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace coffer::grpc_util {

// A channel to `target` (HOST:PORT) that receives messages up to
// kMaxMessageBytes (message_size.h). Null credentials: plaintext, which coffer uses only on
// loopback.
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_CHANNEL_H_
