// Conversions between protobuf Timestamp/Duration and the unix nanoseconds
// the schema stores, with range checks that name the offending field.
#ifndef COFFER_SERVICES_STORAGE_REPOS_PROTO_TIME_H_
#define COFFER_SERVICES_STORAGE_REPOS_PROTO_TIME_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

namespace coffer::storage {

google::protobuf::Timestamp ToTimestamp(int64_t unix_nanos);
google::protobuf::Duration ToDuration(int64_t nanos);
// INVALID_ARGUMENT naming `field` when out of the range storage keeps.
absl::StatusOr<int64_t> ToNanos(const google::protobuf::Timestamp& timestamp,
                                absl::string_view field);
absl::StatusOr<int64_t> DurationNanos(const google::protobuf::Duration& duration,
                                      absl::string_view field);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_PROTO_TIME_H_
