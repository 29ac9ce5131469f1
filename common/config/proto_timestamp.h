// google.protobuf.Timestamp <-> absl::Time, for the times of API messages
// (next run times, run starts) that code compares and adds durations to.
//
//   absl::Time due = config::TimeFromProto(task.next_run_time());
//   *run.mutable_scheduled_for() = config::TimeToProto(due);
//
// An unset Timestamp is the Unix epoch, as protobuf defines it. Times
// outside Timestamp's range (years 1 to 9999), infinite ones included, are
// clamped to its ends.
#ifndef COFFER_COMMON_CONFIG_PROTO_TIMESTAMP_H_
#define COFFER_COMMON_CONFIG_PROTO_TIMESTAMP_H_

#include "absl/time/time.h"
#include <google/protobuf/timestamp.pb.h>

namespace coffer::config {

absl::Time TimeFromProto(const google::protobuf::Timestamp& timestamp);
google::protobuf::Timestamp TimeToProto(absl::Time time);

}  // namespace coffer::config

#endif  // COFFER_COMMON_CONFIG_PROTO_TIMESTAMP_H_
