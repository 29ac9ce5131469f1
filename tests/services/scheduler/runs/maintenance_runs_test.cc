#include "services/scheduler/runs/maintenance_runs.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

#include "tests/services/scheduler/runs/unexpected_backends.h"

namespace coffer::scheduler {
namespace {

// Storage whose backup stream and prune the test drives.
class FakeStorage : public UnexpectedRunStorage {
 public:
  void Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) override {
    prune_request = request;
    prune_done = std::move(done);
  }
  absl::AnyInvocable<void()> Backup(const v1::BackupRequest& request,
                                    absl::AnyInvocable<void(const v1::BackupResponse&)> on_message,
                                    absl::AnyInvocable<void(absl::Status) &&> done) override {
    backup_request = request;
    backup_message = std::move(on_message);
    backup_done = std::move(done);
    // Cancelling ends the stream at once, as gRPC would shortly after.
    return [this] {
      ++cancels;
      if (backup_done) std::move(backup_done)(absl::CancelledError("cancelled"));
    };
  }

  v1::PruneRequest prune_request;
  Answer<v1::PruneResponse> prune_done;
  v1::BackupRequest backup_request;
  absl::AnyInvocable<void(const v1::BackupResponse&)> backup_message;
  absl::AnyInvocable<void(absl::Status) &&> backup_done;
  int cancels = 0;
};

TEST(BackupPathForTest, ReplacesEveryTimePlaceholder) {
  const absl::Time time = absl::FromUnixSeconds(1706702400);  // 2024-01-31 12:00:00 UTC
  EXPECT_EQ(BackupPathFor("nightly/{time}.db", time), "nightly/20240131T120000Z.db");
  EXPECT_EQ(BackupPathFor("{time}-{time}", time), "20240131T120000Z-20240131T120000Z");
  EXPECT_EQ(BackupPathFor("", time), "");
}

TEST(BackupRunTest, ForwardsProgressAndSucceedsWithTheResult) {
  FakeStorage storage;
  std::vector<v1::Progress> progress;
  std::optional<RunOutcome> outcome;
  BackupRunOptions options;
  options.params.set_path("b-{time}.db");
  options.params.set_keep_last(3);
  options.started_at = absl::FromUnixSeconds(1706702400);
  auto run = BackupRun::Start(
      &storage, options, [&](const v1::Progress& p) { progress.push_back(p); },
      [&](RunOutcome o) { outcome = std::move(o); });
  EXPECT_EQ(storage.backup_request.path(), "b-20240131T120000Z.db");
  EXPECT_EQ(storage.backup_request.keep_last(), 3u);
  v1::BackupResponse message;
  message.mutable_progress()->set_done(10);
  message.mutable_progress()->set_total(20);
  storage.backup_message(message);
  message.mutable_progress()->set_done(20);
  message.mutable_result()->set_path("/data/backups/b-20240131T120000Z.db");
  storage.backup_message(message);
  std::move(storage.backup_done)(absl::OkStatus());
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->state, v1::RUN_STATE_SUCCEEDED);
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_EQ(progress[0].stage(), "copying pages");
  EXPECT_EQ(progress[1].done(), 20u);
}

TEST(BackupRunTest, AStreamEndingWithoutAResultOrWithAnErrorFails) {
  for (const absl::Status& end : {absl::OkStatus(), absl::AbortedError("a backup is running")}) {
    FakeStorage storage;
    std::optional<RunOutcome> outcome;
    auto run =
        BackupRun::Start(&storage, {}, nullptr, [&](RunOutcome o) { outcome = std::move(o); });
    std::move(storage.backup_done)(end);
    ASSERT_TRUE(outcome.has_value());
    EXPECT_EQ(outcome->state, v1::RUN_STATE_FAILED);
    EXPECT_EQ(outcome->error.upstream(), "storage");
  }
}

TEST(BackupRunTest, CancelStopsTheStream) {
  FakeStorage storage;
  std::optional<RunOutcome> outcome;
  auto run = BackupRun::Start(&storage, {}, nullptr, [&](RunOutcome o) { outcome = std::move(o); });
  v1::Error reason;
  reason.set_code(v1::Error::CANCELLED);
  reason.set_message("by bob");
  run->Cancel(reason);
  EXPECT_EQ(storage.cancels, 1);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome->error.message(), "by bob");
  run->Cancel(reason);  // after the end: nothing more
  EXPECT_EQ(storage.cancels, 1);
}

TEST(PruneRunTest, CountsTheDeletedRowsAndIsFenced) {
  FakeStorage storage;
  std::optional<RunOutcome> outcome;
  PruneRunOptions options;
  options.fence.set_epoch(4);
  options.params.mutable_retention()->set_snapshot_keep_last(10);
  auto run = PruneRun::Start(&storage, options, [&](RunOutcome o) { outcome = std::move(o); });
  EXPECT_EQ(storage.prune_request.fence().epoch(), 4u);
  EXPECT_EQ(storage.prune_request.retention().snapshot_keep_last(), 10u);
  EXPECT_FALSE(storage.prune_request.dry_run());
  v1::PruneResponse pruned;
  pruned.set_snapshots_deleted(2);
  pruned.set_items_deleted(2000);
  pruned.set_prices_deleted(5);
  std::move(storage.prune_done)(pruned);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome->counts.items_succeeded(), 2007u);
}

TEST(PruneRunTest, AFailedOrCancelledPruneSaysSo) {
  FakeStorage storage;
  std::optional<RunOutcome> outcome;
  auto run = PruneRun::Start(&storage, {}, [&](RunOutcome o) { outcome = std::move(o); });
  std::move(storage.prune_done)(absl::FailedPreconditionError("epoch 3 is older than 4"));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->state, v1::RUN_STATE_FAILED);
  EXPECT_TRUE(absl::StrContains(outcome->error.message(), "epoch 3"));

  outcome.reset();
  auto second = PruneRun::Start(&storage, {}, [&](RunOutcome o) { outcome = std::move(o); });
  v1::Error reason;
  reason.set_message("run timeout");
  second->Cancel(reason);
  EXPECT_FALSE(outcome.has_value());  // the call is still out
  v1::PruneResponse pruned;
  pruned.set_items_deleted(7);
  std::move(storage.prune_done)(pruned);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome->counts.items_succeeded(), 7u);  // what was deleted anyway
}

}  // namespace
}  // namespace coffer::scheduler
