#include "services/scheduler/runs/cancellable_backends.h"

#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "tests/services/scheduler/runs/unexpected_backends.h"

namespace coffer::scheduler {
namespace {

// Holds every call until the test answers it.
class HeldFetcher : public UnexpectedRunFetcher {
 public:
  CancelCall QueryBalances(const v1::QueryBalancesRequest& /*request*/,
                           Answer<v1::QueryBalancesResponse> done) override {
    held.push_back(std::move(done));
    const size_t index = held.size() - 1;
    return [this, index] { cancelled.push_back(index); };
  }
  // The calls cancelled on the wire, by index in `held`.
  std::vector<size_t> cancelled;
  std::vector<Answer<v1::QueryBalancesResponse>> held;
};

class HeldStorage : public UnexpectedRunStorage {
 public:
  void WriteSnapshot(const v1::WriteSnapshotRequest& /*request*/,
                     Answer<v1::WriteSnapshotResponse> done) override {
    writes.push_back(std::move(done));
  }
  void WriteSnapshotPart(const v1::WriteSnapshotPartRequest& /*request*/,
                         Answer<v1::WriteSnapshotPartResponse> done) override {
    part_writes.push_back(std::move(done));
  }
  std::vector<Answer<v1::WriteSnapshotResponse>> writes;
  std::vector<Answer<v1::WriteSnapshotPartResponse>> part_writes;
};

template <typename Reply>
Answer<Reply> Into(std::optional<absl::StatusOr<Reply>>& out) {
  return [&out](absl::StatusOr<Reply> reply) { out = std::move(reply); };
}

TEST(CancellableBackendsTest, CancelAnswersOutstandingReadsAtOnceAndDropsTheirLateAnswers) {
  HeldFetcher fetcher;
  HeldStorage storage;
  auto scope = CancellableBackends::Create({.storage = &storage, .fetcher = &fetcher});
  std::optional<absl::StatusOr<v1::QueryBalancesResponse>> first;
  scope->backends().fetcher->QueryBalances({}, Into(first));
  ASSERT_EQ(fetcher.held.size(), 1u);
  EXPECT_FALSE(first.has_value());

  scope->CancelReads(absl::CancelledError("the run was cancelled"));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status().code(), absl::StatusCode::kCancelled);
  // And cancelled on the wire, so the fetcher drops its queued work.
  EXPECT_EQ(fetcher.cancelled, std::vector<size_t>{0});

  // The inner call's own answer comes later and is dropped.
  std::move(fetcher.held[0])(v1::QueryBalancesResponse());
  EXPECT_EQ(first->status().code(), absl::StatusCode::kCancelled);

  // A read asked after the cancel never reaches the fetcher.
  std::optional<absl::StatusOr<v1::QueryBalancesResponse>> later;
  scope->backends().fetcher->QueryBalances({}, Into(later));
  EXPECT_EQ(fetcher.held.size(), 1u);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->status().code(), absl::StatusCode::kCancelled);
}

TEST(CancellableBackendsTest, ReadsAnsweredBeforeACancelPassThrough) {
  HeldFetcher fetcher;
  HeldStorage storage;
  auto scope = CancellableBackends::Create({.storage = &storage, .fetcher = &fetcher});
  std::optional<absl::StatusOr<v1::QueryBalancesResponse>> reply;
  scope->backends().fetcher->QueryBalances({}, Into(reply));
  v1::QueryBalancesResponse answer;
  answer.add_results();
  std::move(fetcher.held[0])(answer);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->ok());
  EXPECT_EQ((*reply)->results_size(), 1);
  scope->CancelReads(absl::CancelledError("late"));
  EXPECT_TRUE(reply->ok());
  EXPECT_TRUE(fetcher.cancelled.empty());  // nothing left to cancel
}

TEST(CancellableBackendsTest, OneReadsCancelAnswersItAndCancelsItsCallOnly) {
  HeldFetcher fetcher;
  HeldStorage storage;
  auto scope = CancellableBackends::Create({.storage = &storage, .fetcher = &fetcher});
  std::optional<absl::StatusOr<v1::QueryBalancesResponse>> first, second;
  CancelCall cancel_first = scope->backends().fetcher->QueryBalances({}, Into(first));
  scope->backends().fetcher->QueryBalances({}, Into(second));
  ASSERT_EQ(fetcher.held.size(), 2u);
  cancel_first();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(second.has_value());
  EXPECT_EQ(fetcher.cancelled, std::vector<size_t>{0});
  cancel_first();  // again: nothing
  EXPECT_EQ(fetcher.cancelled, std::vector<size_t>{0});
  // The rest are cancelled with the run, each once.
  scope->CancelReads(absl::CancelledError("the run was cancelled"));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(fetcher.cancelled, (std::vector<size_t>{0, 1}));
}

// Whether storage committed is only known from its answer: a write is never
// cut short, so the run reports what it wrote.
TEST(CancellableBackendsTest, WritesWaitForStoragesAnswer) {
  HeldFetcher fetcher;
  HeldStorage storage;
  auto scope = CancellableBackends::Create({.storage = &storage, .fetcher = &fetcher});
  std::optional<absl::StatusOr<v1::WriteSnapshotResponse>> write;
  scope->backends().storage->WriteSnapshot({}, Into(write));
  scope->CancelReads(absl::CancelledError("cancelled"));
  EXPECT_FALSE(write.has_value());
  v1::WriteSnapshotResponse written;
  written.mutable_snapshot()->set_snapshot_id("s1");
  std::move(storage.writes[0])(written);
  ASSERT_TRUE(write.has_value());
  ASSERT_TRUE(write->ok());
  EXPECT_EQ((*write)->snapshot().snapshot_id(), "s1");
}

// A part is a write too: a cancelled run waits for it like for the commit
// (parts written stay open in storage, which deletes them after a day).
TEST(CancellableBackendsTest, SnapshotPartsWaitForStoragesAnswer) {
  HeldFetcher fetcher;
  HeldStorage storage;
  auto scope = CancellableBackends::Create({.storage = &storage, .fetcher = &fetcher});
  std::optional<absl::StatusOr<v1::WriteSnapshotPartResponse>> before, after;
  scope->backends().storage->WriteSnapshotPart({}, Into(before));
  scope->CancelReads(absl::CancelledError("cancelled"));
  EXPECT_FALSE(before.has_value());
  // Asked after the cancel, it still reaches storage.
  scope->backends().storage->WriteSnapshotPart({}, Into(after));
  ASSERT_EQ(storage.part_writes.size(), 2u);
  EXPECT_FALSE(after.has_value());
  v1::WriteSnapshotPartResponse written;
  written.set_items(3);
  std::move(storage.part_writes[0])(written);
  std::move(storage.part_writes[1])(absl::UnavailableError("storage went away"));
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(before->ok());
  EXPECT_EQ((*before)->items(), 3u);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace coffer::scheduler
