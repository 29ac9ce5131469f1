// The largest message a coffer server or channel takes in. gRPC's default
// is 4 MiB; a snapshot may hold 100,000 items (storage.proto), some 20 MB,
// and a fetcher batch 10,000.
#ifndef COFFER_COMMON_GRPC_MESSAGE_SIZE_H_
#define COFFER_COMMON_GRPC_MESSAGE_SIZE_H_

namespace coffer::grpc_util {

inline constexpr int kMaxMessageBytes = 64 << 20;

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_MESSAGE_SIZE_H_
