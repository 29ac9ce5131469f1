#include "common/config/proto_timestamp.h"

#include <gtest/gtest.h>

namespace coffer::config {
namespace {

google::protobuf::Timestamp Make(int64_t seconds, int32_t nanos) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(nanos);
  return timestamp;
}

TEST(ProtoTimestampTest, RoundTripsEveryNanosecond) {
  for (const auto& [seconds, nanos] : std::vector<std::pair<int64_t, int32_t>>{
           {0, 0}, {1'700'000'000, 123'456'789}, {-1, 999'999'999}, {-62135596800, 0}}) {
    const google::protobuf::Timestamp back = TimeToProto(TimeFromProto(Make(seconds, nanos)));
    EXPECT_EQ(back.seconds(), seconds);
    EXPECT_EQ(back.nanos(), nanos);
  }
}

TEST(ProtoTimestampTest, TimesBeforeTheEpochKeepNanosPositive) {
  // 0.25 s before the epoch is seconds -1 and nanos 750,000,000.
  const google::protobuf::Timestamp timestamp =
      TimeToProto(absl::UnixEpoch() - absl::Milliseconds(250));
  EXPECT_EQ(timestamp.seconds(), -1);
  EXPECT_EQ(timestamp.nanos(), 750'000'000);
}

TEST(ProtoTimestampTest, UnsetIsTheEpoch) {
  EXPECT_EQ(TimeFromProto(google::protobuf::Timestamp()), absl::UnixEpoch());
}

TEST(ProtoTimestampTest, ClampsToTimestampsRange) {
  EXPECT_EQ(TimeToProto(absl::InfiniteFuture()).seconds(), 253402300799);
  EXPECT_EQ(TimeToProto(absl::InfiniteFuture()).nanos(), 999'999'999);
  EXPECT_EQ(TimeToProto(absl::InfinitePast()).seconds(), -62135596800);
  EXPECT_EQ(TimeToProto(absl::InfinitePast()).nanos(), 0);
}

}  // namespace
}  // namespace coffer::config
