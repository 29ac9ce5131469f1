#include "services/storage/prune_runner.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/prices_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

// A one-shot event. std::mutex rather than absl::Notification: Debian's
// Abseil is not built for ThreadSanitizer, which would not see its ordering.
class Latch {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return notified_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
};

// What RunPrune's done was called with, and how often.
struct Outcome {
  std::atomic<int> calls{0};
  absl::Status status;
  Latch finished;
};

// RunPrune reads storage's real clock, so the data is dated from it.
class PruneRunnerTest : public RepoTestBase {
 protected:
  int64_t Ago(int64_t seconds) const { return start_seconds_ - seconds; }

  // The fixture owns the pool and shuts it down in TearDown, after every run
  // has finished.
  std::shared_ptr<db::ConnectionPool> SharedPool() {
    return std::shared_ptr<db::ConnectionPool>(pool_.get(), [](db::ConnectionPool*) {});
  }

  void Start(const v1::PruneRequest& request, v1::PruneResponse* response, Outcome* outcome,
             PruneLimits limits = {}) {
    RunPrune(
        SharedPool(), request, response,
        [outcome](absl::Status status) {
          if (outcome->calls.fetch_add(1) == 0) {
            outcome->status = std::move(status);
            outcome->finished.Notify();
          }
        },
        limits);
  }
  absl::Status PruneAndWait(const v1::PruneRequest& request, v1::PruneResponse* response,
                            PruneLimits limits = {}) {
    Outcome outcome;
    Start(request, response, &outcome, limits);
    outcome.finished.Wait();
    EXPECT_EQ(outcome.calls.load(), 1);
    return outcome.status;
  }

  // Holds the writer thread until the returned notification is notified, so
  // that writes submitted meanwhile queue up in a known order.
  std::unique_ptr<Latch> HoldWriter() {
    auto release = std::make_unique<Latch>();
    Latch* raw = release.get();
    pool_->Write(
        [raw](db::WriteContext&) {
          raw->Wait();
          return absl::OkStatus();
        },
        [](absl::Status status) { EXPECT_TRUE(status.ok()) << status; });
    return release;
  }

  void WriteSnap(const v1::WriteSnapshotRequest& request) {
    v1::WriteSnapshotResponse response;
    absl::Status status = Write(
        [&](db::WriteContext& tx) { return WriteSnapshot(tx, request, &response, absl::Now()); });
    ASSERT_TRUE(status.ok()) << status;
  }

  // Twenty old snapshots of accounts 1 to 5 (the oldest also of account 6,
  // never read again), one recent one of accounts 1 to 5, and ETH/usd priced
  // 30 times long ago and once recently. PruneBy(5000) deletes 100 items, 19
  // snapshots and 30 prices, keeping account 6's item and its snapshot.
  void WriteManyOld() {
    AddIds({EvmId(1), EvmId(2), EvmId(3), EvmId(4), EvmId(5), EvmId(6)});
    for (int i = 0; i < 20; ++i) {
      v1::WriteSnapshotRequest old = Request("old-" + std::to_string(i), Ago(20000 - i));
      for (int n = 1; n <= 5; ++n) AddAmount(&old, EvmId(n), kEth, std::to_string(i));
      if (i == 0) AddAmount(&old, EvmId(6), kEth, "6");
      WriteSnap(old);
    }
    v1::WriteSnapshotRequest recent = Request("recent", Ago(10));
    for (int n = 1; n <= 5; ++n) AddAmount(&recent, EvmId(n), kEth, "99");
    WriteSnap(recent);

    v1::WritePricesRequest prices;
    for (int i = 0; i <= 30; ++i) {
      v1::Price* price = prices.add_prices();
      price->set_asset_id(kEth);
      price->set_quote_currency("usd");
      price->mutable_price()->set_units("2000");
      price->mutable_price()->set_decimals(0);
      price->mutable_price_time()->set_seconds(i < 30 ? Ago(20000 - i) : Ago(10));
    }
    v1::WritePricesResponse written;
    ASSERT_TRUE(Write([&](db::WriteContext& tx) {
                  return WritePrices(tx, prices, &written, absl::Now());
                }).ok());
    ASSERT_EQ(Count("snapshot_items"), 106);
    ASSERT_EQ(Count("prices"), 31);
  }

  static v1::PruneRequest PruneOlderThan(int64_t seconds) {
    v1::PruneRequest request;
    request.mutable_retention()->mutable_snapshot_max_age()->set_seconds(seconds);
    request.mutable_retention()->mutable_price_max_age()->set_seconds(seconds);
    return request;
  }

  const int64_t start_seconds_ = absl::ToUnixSeconds(absl::Now());
};

TEST_F(PruneRunnerTest, ManyChunksAddUp) {
  WriteManyOld();
  v1::PruneRequest request = PruneOlderThan(5000);
  request.set_dry_run(true);
  v1::PruneResponse dry;
  uint64_t writes = pool_->stats().writes;
  ASSERT_TRUE(PruneAndWait(request, &dry, PruneLimits{7}).ok());
  EXPECT_EQ(pool_->stats().writes - writes, 1u);
  EXPECT_EQ(Count("snapshot_items"), 106);

  request.set_dry_run(false);
  v1::PruneResponse response;
  writes = pool_->stats().writes;
  absl::Status status = PruneAndWait(request, &response, PruneLimits{7});
  ASSERT_TRUE(status.ok()) << status;
  // 149 rows, at most 7 a chunk.
  EXPECT_GE(pool_->stats().writes - writes, 22u);
  EXPECT_EQ(response.items_deleted(), 100u);
  EXPECT_EQ(response.items_kept(), 1u);
  EXPECT_EQ(response.snapshots_deleted(), 19u);
  EXPECT_EQ(response.prices_deleted(), 30u);
  EXPECT_EQ(response.items_deleted(), dry.items_deleted());
  EXPECT_EQ(response.items_kept(), dry.items_kept());
  EXPECT_EQ(response.snapshots_deleted(), dry.snapshots_deleted());
  EXPECT_EQ(response.prices_deleted(), dry.prices_deleted());
  EXPECT_TRUE(response.has_duration());
  EXPECT_GE(response.duration().seconds(), 0);
  EXPECT_EQ(Count("snapshots"), 2);
  EXPECT_EQ(Count("snapshot_items"), 6);
  EXPECT_EQ(Count("prices"), 1);
}

TEST_F(PruneRunnerTest, OtherWritesCommitBetweenChunks) {
  WriteManyOld();
  std::unique_ptr<Latch> release = HoldWriter();
  Outcome prune;
  v1::PruneResponse response;
  // Must outlive done.
  const v1::PruneRequest request = PruneOlderThan(5000);
  Start(request, &response, &prune, PruneLimits{1});
  // Queued behind the prune's first chunk, so ahead of its second.
  std::atomic<int64_t> items_seen{-1};
  std::atomic<bool> prune_done_first{true};
  Latch other_done;
  pool_->Write(
      [&items_seen](db::WriteContext& tx) -> absl::Status {
        absl::StatusOr<db::CachedStatement> select =
            tx.Prepare("SELECT COUNT(*) FROM snapshot_items");
        if (!select.ok()) return select.status();
        absl::StatusOr<bool> row = (*select)->Step();
        if (!row.ok()) return row.status();
        items_seen = (*select)->ColumnInt64(0);
        return absl::OkStatus();
      },
      [&](absl::Status status) {
        EXPECT_TRUE(status.ok()) << status;
        prune_done_first = prune.calls.load() > 0;
        other_done.Notify();
      });
  release->Notify();
  prune.finished.Wait();
  other_done.Wait();
  ASSERT_TRUE(prune.status.ok()) << prune.status;
  EXPECT_FALSE(prune_done_first.load());
  // It ran after exactly one chunk had deleted one item.
  EXPECT_EQ(items_seen.load(), 105);
  EXPECT_EQ(response.items_deleted(), 100u);
  EXPECT_EQ(Count("snapshot_items"), 6);
}

TEST_F(PruneRunnerTest, FailedChunkIsReportedOnceWithEarlierCounts) {
  WriteManyOld();
  PutLease("scheduler", "scheduler-0:a", 1, absl::Now() + absl::Hours(1));
  v1::PruneRequest request = PruneOlderThan(5000);
  request.mutable_fence()->set_lease_name("scheduler");
  request.mutable_fence()->set_holder_id("scheduler-0:a");
  request.mutable_fence()->set_epoch(1);

  std::unique_ptr<Latch> release = HoldWriter();
  Outcome prune;
  v1::PruneResponse response;
  Start(request, &response, &prune, PruneLimits{1});
  // Another replica takes the lease after the first chunk, before the second.
  const int64_t expires = absl::ToUnixNanos(absl::Now() + absl::Hours(1));
  pool_->Write(
      [expires](db::WriteContext& tx) -> absl::Status {
        absl::StatusOr<db::CachedStatement> update =
            tx.Prepare("UPDATE leases SET holder_id = ?1, epoch = 2, expires_at = ?2");
        if (!update.ok()) return update.status();
        absl::Status status = (*update)->Bind(1, "scheduler-1:b");
        if (status.ok()) status = (*update)->Bind(2, expires);
        if (status.ok()) status = (*update)->Run();
        return status;
      },
      [](absl::Status status) { EXPECT_TRUE(status.ok()) << status; });
  release->Notify();
  prune.finished.Wait();
  EXPECT_EQ(prune.status.code(), absl::StatusCode::kFailedPrecondition) << prune.status;
  EXPECT_EQ(response.items_deleted(), 1u);
  EXPECT_EQ(response.snapshots_deleted(), 0u);
  EXPECT_TRUE(response.has_duration());
  EXPECT_EQ(Count("snapshot_items"), 105);
  // A chunk wrongly submitted after the failure would have been queued before
  // this write, and finished before it.
  ASSERT_TRUE(Write([](db::WriteContext&) { return absl::OkStatus(); }).ok());
  EXPECT_EQ(prune.calls.load(), 1);
  EXPECT_EQ(Count("snapshot_items"), 105);
}

TEST_F(PruneRunnerTest, InvalidRequestFailsInTheFirstChunk) {
  v1::PruneResponse response;
  absl::Status status = PruneAndWait(v1::PruneRequest(), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(response.items_deleted(), 0u);
  EXPECT_TRUE(response.has_duration());
}

TEST_F(PruneRunnerTest, PoolShutdownBetweenChunksEndsWithUnavailable) {
  WriteManyOld();
  std::unique_ptr<Latch> release = HoldWriter();
  Outcome prune;
  v1::PruneResponse response;
  // Must outlive done.
  const v1::PruneRequest request = PruneOlderThan(5000);
  Start(request, &response, &prune, PruneLimits{1});
  std::thread shutdown([this] { pool_->Shutdown(); });
  // Wait until the pool refuses new work (a refusal is answered inline).
  while (true) {
    auto refused = std::make_shared<std::atomic<bool>>(false);
    pool_->Write([](db::WriteContext&) { return absl::OkStatus(); },
                 [refused](absl::Status status) {
                   if (absl::IsUnavailable(status)) *refused = true;
                 });
    if (refused->load()) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  // The queued first chunk still runs; the second is refused.
  release->Notify();
  prune.finished.Wait();
  shutdown.join();
  EXPECT_EQ(prune.status.code(), absl::StatusCode::kUnavailable) << prune.status;
  EXPECT_EQ(prune.calls.load(), 1);
  EXPECT_EQ(response.items_deleted(), 1u);
}

}  // namespace
}  // namespace coffer::storage
