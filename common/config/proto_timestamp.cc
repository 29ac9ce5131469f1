#include "common/config/proto_timestamp.h"

#include <algorithm>
#include <cstdint>

namespace coffer::config {
namespace {

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (timestamp.proto).
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

}  // namespace

absl::Time TimeFromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

google::protobuf::Timestamp TimeToProto(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  const absl::Time min = absl::FromUnixSeconds(kMinSeconds);
  const absl::Time max = absl::FromUnixSeconds(kMaxSeconds) + absl::Nanoseconds(999'999'999);
  time = std::clamp(time, min, max);
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds towards the past
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return timestamp;
}

}  // namespace coffer::config
