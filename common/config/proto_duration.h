// google.protobuf.Duration <-> absl::Duration, for the durations of textproto
// configs and API messages (timeouts, intervals, TTLs).
//
//   absl::Duration ttl = config::DurationFromProto(source.ttl());
//   *request.mutable_ttl() = config::DurationToProto(absl::Seconds(15));
//
// Seconds and nanos are added as they are, so every value protobuf allows
// (up to 10,000 years) converts without overflow. Neither validates: a
// duration with seconds and nanos of different signs converts to their sum;
// callers validate where the message's contract asks for it.
#ifndef COFFER_COMMON_CONFIG_PROTO_DURATION_H_
#define COFFER_COMMON_CONFIG_PROTO_DURATION_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace coffer::config {

absl::Duration DurationFromProto(const google::protobuf::Duration& duration);
google::protobuf::Duration DurationToProto(absl::Duration duration);

}  // namespace coffer::config

#endif  // COFFER_COMMON_CONFIG_PROTO_DURATION_H_
