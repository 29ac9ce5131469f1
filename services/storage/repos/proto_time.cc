#include "services/storage/repos/proto_time.h"

#include "absl/strings/str_cat.h"

namespace coffer::storage {

google::protobuf::Timestamp ToTimestamp(int64_t unix_nanos) {
  google::protobuf::Timestamp timestamp;
  int64_t seconds = unix_nanos / 1000000000;
  int64_t nanos = unix_nanos % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --seconds;
  }
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(static_cast<int32_t>(nanos));
  return timestamp;
}

google::protobuf::Duration ToDuration(int64_t nanos) {
  google::protobuf::Duration duration;
  duration.set_seconds(nanos / 1000000000);
  duration.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return duration;
}

// Unix nanoseconds of a Timestamp; INVALID_ARGUMENT naming `field` when out
// of the range storage keeps.
absl::StatusOr<int64_t> ToNanos(const google::protobuf::Timestamp& timestamp,
                                absl::string_view field) {
  // 0001-01-01 to 2262-04-11: what fits int64 nanoseconds.
  if (timestamp.seconds() < -9223372036LL || timestamp.seconds() > 9223372035LL ||
      timestamp.nanos() < 0 || timestamp.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": out of range"));
  }
  return timestamp.seconds() * 1000000000LL + timestamp.nanos();
}

absl::StatusOr<int64_t> DurationNanos(const google::protobuf::Duration& duration,
                                      absl::string_view field) {
  if (duration.seconds() < 0 || duration.nanos() < 0 || duration.seconds() > 9223372035LL ||
      duration.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": out of range"));
  }
  return duration.seconds() * 1000000000LL + duration.nanos();
}

}  // namespace coffer::storage
