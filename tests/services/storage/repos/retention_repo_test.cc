#include "services/storage/repos/retention_repo.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "services/storage/db/connection_pool.h"
#include "services/storage/repos/prices_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

constexpr int64_t kNowSeconds = 1700000000;

// Seconds before kNow, as a taken_at or price_time.
int64_t Ago(int64_t seconds) { return kNowSeconds - seconds; }

v1::PruneRequest PruneBy(int64_t snapshot_max_age_seconds, uint32_t keep_last,
                         int64_t price_max_age_seconds) {
  v1::PruneRequest request;
  v1::RetentionPolicy* policy = request.mutable_retention();
  policy->mutable_snapshot_max_age()->set_seconds(snapshot_max_age_seconds);
  policy->set_snapshot_keep_last(keep_last);
  policy->mutable_price_max_age()->set_seconds(price_max_age_seconds);
  return request;
}

class RetentionRepoTest : public RepoTestBase {
 protected:
  // Writes a snapshot; expects success and answers its id.
  std::string WriteSnap(const v1::WriteSnapshotRequest& request) {
    v1::WriteSnapshotResponse response;
    absl::Status status =
        Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, request, &response, kNow); });
    EXPECT_TRUE(status.ok()) << status;
    return response.snapshot().snapshot_id();
  }

  void AddPrice(const std::string& asset, const std::string& quote, int64_t time_seconds) {
    v1::WritePricesRequest request;
    v1::Price* price = request.add_prices();
    price->set_asset_id(asset);
    price->set_quote_currency(quote);
    price->mutable_price()->set_units("100");
    price->mutable_price()->set_decimals(2);
    price->mutable_price_time()->set_seconds(time_seconds);
    v1::WritePricesResponse response;
    absl::Status status =
        Write([&](db::WriteContext& tx) { return WritePrices(tx, request, &response, kNow); });
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_EQ(response.written(), 1u);
  }

  // Runs chunks, each in its own transaction at `now`, until the prune
  // finishes or a chunk fails; adds their counts to *response and, when
  // `chunks` is given, records each chunk's own counts there.
  absl::Status PruneAll(const v1::PruneRequest& request, v1::PruneResponse* response,
                        PruneLimits limits = {}, std::vector<v1::PruneResponse>* chunks = nullptr,
                        absl::Time now = kNow) {
    PruneProgress progress;
    // Far more chunks than any test needs: a prune that never finishes fails.
    for (int chunk = 0; chunk < 1000; ++chunk) {
      absl::Status status = RunChunk(request, limits, progress, response, chunks, now);
      if (!status.ok() || progress.finished()) return status;
    }
    return absl::InternalError("the prune never finished");
  }
  absl::Status RunChunk(const v1::PruneRequest& request, const PruneLimits& limits,
                        PruneProgress& progress, v1::PruneResponse* response,
                        std::vector<v1::PruneResponse>* chunks = nullptr, absl::Time now = kNow) {
    v1::PruneResponse counts;
    absl::Status status = Write([&](db::WriteContext& tx) {
      return PruneChunk(tx, request, limits, progress, &counts, now);
    });
    if (!status.ok()) return status;
    if (chunks != nullptr) chunks->push_back(counts);
    response->set_snapshots_deleted(response->snapshots_deleted() + counts.snapshots_deleted());
    response->set_items_deleted(response->items_deleted() + counts.items_deleted());
    response->set_prices_deleted(response->prices_deleted() + counts.prices_deleted());
    response->set_items_kept(response->items_kept() + counts.items_kept());
    return absl::OkStatus();
  }
  absl::Status RunPrune(const v1::PruneRequest& request, v1::PruneResponse* response) {
    return PruneAll(request, response);
  }
  v1::PruneResponse PruneOk(const v1::PruneRequest& request, PruneLimits limits = {},
                            std::vector<v1::PruneResponse>* chunks = nullptr) {
    v1::PruneResponse response;
    absl::Status status = PruneAll(request, &response, limits, chunks);
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }

  // Every latest balance, serialized, so two reads compare field by field.
  std::string LatestBalances() {
    v1::GetLatestBalancesRequest request;
    request.mutable_page()->set_page_size(1000);
    v1::GetLatestBalancesResponse response;
    absl::Status status =
        Read([&](db::ReadContext& tx) { return GetLatestBalances(tx, request, &response, kNow); });
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_TRUE(response.page().next_page_token().empty());
    return response.SerializeAsString();
  }
  std::string LatestPrices() {
    v1::GetLatestPricesResponse response;
    absl::Status status =
        Read([&](db::ReadContext& tx) { return GetLatestPrices(tx, {}, &response, kNow); });
    EXPECT_TRUE(status.ok()) << status;
    return response.SerializeAsString();
  }

  // Four refreshes of two accounts:
  //   s1 (10000 s ago): A/ETH 10, B/ETH 20, A/USDC 1, with a block
  //   s2 (8000 s ago):  A/ETH 11, B/ETH failed, with a block
  //   s3 (6000 s ago):  A/ETH 12, B/ETH failed
  //   s4 (100 s ago):   A/ETH 13
  // so latest balances reference s4 (A/ETH), s3 (B/ETH's failed reading),
  // s1 (B/ETH's last known value and A/USDC, never read again).
  void WriteHistory() {
    AddIds({EvmId(1), EvmId(2)});
    v1::WriteSnapshotRequest s1 = Request("s1", Ago(10000));
    AddBlock(&s1);
    AddAmount(&s1, EvmId(1), kEth, "10");
    AddAmount(&s1, EvmId(2), kEth, "20");
    AddAmount(&s1, EvmId(1), kUsdc, "1", 6);
    s1_ = WriteSnap(s1);
    v1::WriteSnapshotRequest s2 = Request("s2", Ago(8000));
    AddBlock(&s2);
    AddAmount(&s2, EvmId(1), kEth, "11");
    AddError(&s2, EvmId(2), kEth, "timeout");
    s2_ = WriteSnap(s2);
    v1::WriteSnapshotRequest s3 = Request("s3", Ago(6000));
    AddAmount(&s3, EvmId(1), kEth, "12");
    AddError(&s3, EvmId(2), kEth, "rate limited")
        ->mutable_error()
        ->mutable_retry_after()
        ->set_seconds(60);
    s3_ = WriteSnap(s3);
    v1::WriteSnapshotRequest s4 = Request("s4", Ago(100));
    AddAmount(&s4, EvmId(1), kEth, "13");
    s4_ = WriteSnap(s4);
    ASSERT_EQ(Count("snapshots"), 4);
    ASSERT_EQ(Count("snapshot_items"), 8);
    ASSERT_EQ(Count("snapshot_blocks"), 2);
  }
  static void AddBlock(v1::WriteSnapshotRequest* request) {
    v1::BlockRef* block = request->add_blocks();
    block->set_chain_id("eip155:1");
    block->set_number(18000000);
  }
  // Whether snapshot `id` still exists.
  bool HasSnapshot(const std::string& id) {
    return Count("snapshots WHERE snapshot_id = " + id) == 1;
  }

  std::string s1_, s2_, s3_, s4_;
};

TEST_F(RetentionRepoTest, ByAgeKeepsWhatLatestBalancesNeed) {
  WriteHistory();
  const std::string before = LatestBalances();
  v1::PruneResponse response = PruneOk(PruneBy(5000, 0, 0));
  // s1: A/ETH deleted, B/ETH and A/USDC kept; s2: both deleted; s3: A/ETH
  // deleted, B/ETH kept.
  EXPECT_EQ(response.items_deleted(), 4u);
  EXPECT_EQ(response.items_kept(), 3u);
  EXPECT_EQ(response.snapshots_deleted(), 1u);
  EXPECT_EQ(response.prices_deleted(), 0u);
  // The runner times the whole prune; a chunk leaves duration alone.
  EXPECT_FALSE(response.has_duration());
  EXPECT_TRUE(HasSnapshot(s1_));
  EXPECT_FALSE(HasSnapshot(s2_));
  EXPECT_TRUE(HasSnapshot(s3_));
  EXPECT_TRUE(HasSnapshot(s4_));
  EXPECT_EQ(Count("snapshot_items"), 4);
  // s2's block went with it; s1's stays with s1.
  EXPECT_EQ(Count("snapshot_blocks"), 1);
  EXPECT_EQ(LatestBalances(), before);

  // Nothing more to do: the kept items are counted again, nothing deleted.
  response = PruneOk(PruneBy(5000, 0, 0));
  EXPECT_EQ(response.items_deleted(), 0u);
  EXPECT_EQ(response.items_kept(), 3u);
  EXPECT_EQ(response.snapshots_deleted(), 0u);
}

TEST_F(RetentionRepoTest, ByCountKeepsNewest) {
  WriteHistory();
  const std::string before = LatestBalances();
  v1::PruneResponse response = PruneOk(PruneBy(0, 2, 0));
  // s1 and s2 are beyond the two newest.
  EXPECT_EQ(response.items_deleted(), 3u);
  EXPECT_EQ(response.items_kept(), 2u);
  EXPECT_EQ(response.snapshots_deleted(), 1u);
  EXPECT_TRUE(HasSnapshot(s1_));
  EXPECT_FALSE(HasSnapshot(s2_));
  EXPECT_TRUE(HasSnapshot(s3_));
  EXPECT_EQ(Count("snapshot_items"), 5);
  EXPECT_EQ(LatestBalances(), before);

  // Keeping more than there are deletes nothing.
  response = PruneOk(PruneBy(0, 10, 0));
  EXPECT_EQ(response.items_deleted(), 0u);
  EXPECT_EQ(response.items_kept(), 0u);
  EXPECT_EQ(response.snapshots_deleted(), 0u);
  EXPECT_EQ(Count("snapshots"), 3);
}

TEST_F(RetentionRepoTest, ByCountBreaksTiesBySnapshotId) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest old = Request("old", Ago(500));
  AddAmount(&old, EvmId(1), kEth, "1");
  const std::string old_id = WriteSnap(old);
  // Two snapshots taken at the same time; the first has no stored item (its
  // only account is not registered).
  v1::WriteSnapshotRequest first = Request("first", Ago(100));
  AddAmount(&first, EvmId(9), kEth, "9");
  const std::string first_id = WriteSnap(first);
  v1::WriteSnapshotRequest second = Request("second", Ago(100));
  AddAmount(&second, EvmId(1), kEth, "2");
  const std::string second_id = WriteSnap(second);

  v1::PruneResponse response = PruneOk(PruneBy(0, 1, 0));
  EXPECT_EQ(response.snapshots_deleted(), 2u);
  EXPECT_EQ(response.items_deleted(), 1u);
  EXPECT_EQ(response.items_kept(), 0u);
  EXPECT_FALSE(HasSnapshot(old_id));
  EXPECT_FALSE(HasSnapshot(first_id));
  EXPECT_TRUE(HasSnapshot(second_id));
}

TEST_F(RetentionRepoTest, AgeAndCountTogetherPruneEitherWay) {
  WriteHistory();
  const std::string before = LatestBalances();
  // The age limit alone would prune s1 only (older than 9000 s); the count
  // limit alone s1 to s3. Together: s1 to s3.
  v1::PruneResponse response = PruneOk(PruneBy(9000, 1, 0));
  EXPECT_EQ(response.items_deleted(), 4u);
  EXPECT_EQ(response.items_kept(), 3u);
  EXPECT_EQ(response.snapshots_deleted(), 1u);
  EXPECT_FALSE(HasSnapshot(s2_));
  EXPECT_EQ(LatestBalances(), before);
}

TEST_F(RetentionRepoTest, EverythingPrunedStillLeavesLatestBalances) {
  WriteHistory();
  // B/ETH succeeds once more: its older value and failed reading are no
  // longer needed.
  v1::WriteSnapshotRequest s5 = Request("s5", Ago(50));
  AddAmount(&s5, EvmId(2), kEth, "21");
  const std::string s5_id = WriteSnap(s5);
  const std::string before = LatestBalances();
  v1::PruneResponse response = PruneOk(PruneBy(1, 0, 0));
  // Every snapshot is past the limit; kept: A/ETH (s4), A/USDC (s1), B/ETH (s5).
  EXPECT_EQ(response.items_kept(), 3u);
  EXPECT_EQ(response.items_deleted(), 6u);
  EXPECT_EQ(response.snapshots_deleted(), 2u);
  EXPECT_EQ(Count("snapshot_items"), 3);
  EXPECT_TRUE(HasSnapshot(s1_));
  EXPECT_FALSE(HasSnapshot(s2_));
  EXPECT_FALSE(HasSnapshot(s3_));
  EXPECT_TRUE(HasSnapshot(s4_));
  EXPECT_TRUE(HasSnapshot(s5_id));
  EXPECT_EQ(LatestBalances(), before);
}

TEST_F(RetentionRepoTest, PricesByAgeKeepLatestPerPair) {
  AddPrice(kEth, "usd", Ago(300));
  AddPrice(kEth, "usd", Ago(200));
  AddPrice(kEth, "usd", Ago(100));
  AddPrice(kEth, "eur", Ago(500));
  AddPrice(kUsdc, "usd", Ago(400));
  AddPrice(kUsdc, "usd", Ago(350));
  const std::string before = LatestPrices();
  v1::PruneResponse response = PruneOk(PruneBy(0, 0, 150));
  // ETH/usd loses two; ETH/eur's only price is its latest; USDC/usd loses one.
  EXPECT_EQ(response.prices_deleted(), 3u);
  EXPECT_EQ(response.snapshots_deleted(), 0u);
  EXPECT_EQ(Count("prices"), 3);
  EXPECT_EQ(Count("prices WHERE price_time = " + std::to_string(Ago(200) * 1000000000)), 0);
  // ETH/eur's only price survives although past the limit.
  EXPECT_EQ(Count("prices WHERE price_time = " + std::to_string(Ago(500) * 1000000000)), 1);
  EXPECT_EQ(LatestPrices(), before);
}

TEST_F(RetentionRepoTest, DryRunCountsAndChangesNothing) {
  WriteHistory();
  AddPrice(kEth, "usd", Ago(300));
  AddPrice(kEth, "usd", Ago(100));
  const std::string balances = LatestBalances();
  v1::PruneRequest request = PruneBy(5000, 3, 150);
  request.set_dry_run(true);
  // However small the chunks, a dry run is one call that only counts.
  std::vector<v1::PruneResponse> dry_chunks;
  v1::PruneResponse dry = PruneOk(request, PruneLimits{1}, &dry_chunks);
  EXPECT_EQ(dry_chunks.size(), 1u);
  EXPECT_EQ(dry.items_deleted(), 4u);
  EXPECT_EQ(dry.items_kept(), 3u);
  EXPECT_EQ(dry.snapshots_deleted(), 1u);
  EXPECT_EQ(dry.prices_deleted(), 1u);
  EXPECT_EQ(Count("snapshots"), 4);
  EXPECT_EQ(Count("snapshot_items"), 8);
  EXPECT_EQ(Count("snapshot_blocks"), 2);
  EXPECT_EQ(Count("prices"), 2);
  EXPECT_EQ(LatestBalances(), balances);

  request.set_dry_run(false);
  v1::PruneResponse real = PruneOk(request);
  EXPECT_EQ(real.items_deleted(), dry.items_deleted());
  EXPECT_EQ(real.items_kept(), dry.items_kept());
  EXPECT_EQ(real.snapshots_deleted(), dry.snapshots_deleted());
  EXPECT_EQ(real.prices_deleted(), dry.prices_deleted());
  EXPECT_EQ(Count("snapshots"), 3);
  EXPECT_EQ(Count("snapshot_items"), 4);
  EXPECT_EQ(Count("prices"), 1);
}

TEST_F(RetentionRepoTest, FenceIsChecked) {
  WriteHistory();
  PutLease("scheduler", "scheduler-1:b", 2, kNow + absl::Seconds(30));
  v1::PruneRequest request = PruneBy(5000, 0, 0);
  v1::Fence* fence = request.mutable_fence();
  fence->set_lease_name("scheduler");
  fence->set_holder_id("scheduler-0:a");
  fence->set_epoch(1);
  v1::PruneResponse response;
  // The replica that held epoch 1 before the takeover.
  absl::Status status = RunPrune(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(Count("snapshot_items"), 8);
  // Dry runs are fenced too.
  request.set_dry_run(true);
  EXPECT_EQ(RunPrune(request, &response).code(), absl::StatusCode::kFailedPrecondition);

  request.set_dry_run(false);
  fence->set_holder_id("scheduler-1:b");
  fence->set_epoch(2);
  status = RunPrune(request, &response);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(Count("snapshot_items"), 4);

  // An empty fence is not checked.
  request.mutable_fence()->Clear();
  EXPECT_TRUE(RunPrune(request, &response).ok());
}

TEST_F(RetentionRepoTest, AtLeastOneLimitRequired) {
  v1::PruneResponse response;
  absl::Status status = RunPrune({}, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "retention: at least one")) << status;
  status = RunPrune(PruneBy(0, 0, 0), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  status = RunPrune(PruneBy(-5, 0, 0), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "retention.snapshot_max_age: out of range"))
      << status;
  status = RunPrune(PruneBy(0, 0, -5), &response);
  EXPECT_TRUE(absl::StrContains(status.message(), "retention.price_max_age: out of range"))
      << status;
  // A partly set fence is malformed.
  v1::PruneRequest request = PruneBy(0, 1, 0);
  request.mutable_fence()->set_lease_name("scheduler");
  status = RunPrune(request, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "fence.holder_id")) << status;
}

// Chunked prunes: the history of WriteHistory plus the prices of
// PricesByAgeKeepLatestPerPair, pruned by PruneBy(5000, 0, 150) in chunks of
// `max_deleted_rows`, must end where one whole prune does (the counts of
// ByAgeKeepsWhatLatestBalancesNeed and PricesByAgeKeepLatestPerPair), and no
// chunk may delete more than its limit.
class ChunkedPruneTest : public RetentionRepoTest {
 protected:
  void ExpectSameAsWholePrune(int64_t max_deleted_rows) {
    WriteHistory();
    AddPrice(kEth, "usd", Ago(300));
    AddPrice(kEth, "usd", Ago(200));
    AddPrice(kEth, "usd", Ago(100));
    AddPrice(kEth, "eur", Ago(500));
    AddPrice(kUsdc, "usd", Ago(400));
    AddPrice(kUsdc, "usd", Ago(350));
    const std::string balances = LatestBalances();
    const std::string prices = LatestPrices();
    v1::PruneRequest request = PruneBy(5000, 0, 150);
    request.set_dry_run(true);
    const v1::PruneResponse whole = PruneOk(request);
    request.set_dry_run(false);

    std::vector<v1::PruneResponse> chunks;
    const v1::PruneResponse chunked = PruneOk(request, PruneLimits{max_deleted_rows}, &chunks);
    EXPECT_EQ(chunked.items_deleted(), 4u);
    EXPECT_EQ(chunked.items_kept(), 3u);
    EXPECT_EQ(chunked.snapshots_deleted(), 1u);
    EXPECT_EQ(chunked.prices_deleted(), 3u);
    EXPECT_EQ(chunked.items_deleted(), whole.items_deleted());
    EXPECT_EQ(chunked.items_kept(), whole.items_kept());
    EXPECT_EQ(chunked.snapshots_deleted(), whole.snapshots_deleted());
    EXPECT_EQ(chunked.prices_deleted(), whole.prices_deleted());
    uint64_t rows = 0;
    for (const v1::PruneResponse& chunk : chunks) {
      const uint64_t chunk_rows =
          chunk.items_deleted() + chunk.snapshots_deleted() + chunk.prices_deleted();
      EXPECT_LE(chunk_rows, static_cast<uint64_t>(max_deleted_rows));
      rows += chunk_rows;
    }
    EXPECT_EQ(rows, 8u);
    EXPECT_GE(static_cast<int64_t>(chunks.size()), (8 + max_deleted_rows - 1) / max_deleted_rows);

    EXPECT_TRUE(HasSnapshot(s1_));
    EXPECT_FALSE(HasSnapshot(s2_));
    EXPECT_TRUE(HasSnapshot(s3_));
    EXPECT_TRUE(HasSnapshot(s4_));
    EXPECT_EQ(Count("snapshot_items"), 4);
    EXPECT_EQ(Count("snapshot_blocks"), 1);
    EXPECT_EQ(Count("prices"), 3);
    EXPECT_EQ(LatestBalances(), balances);
    EXPECT_EQ(LatestPrices(), prices);
  }
};

// One row per chunk: s1 spans two chunks (its one deletable item, then its
// two kept ones), which must still count as two kept, not four.
TEST_F(ChunkedPruneTest, OneRowPerChunk) { ExpectSameAsWholePrune(1); }
TEST_F(ChunkedPruneTest, TwoRowsPerChunk) { ExpectSameAsWholePrune(2); }
TEST_F(ChunkedPruneTest, ThreeRowsPerChunk) { ExpectSameAsWholePrune(3); }
TEST_F(ChunkedPruneTest, DefaultLimitIsOneChunk) {
  ExpectSameAsWholePrune(PruneLimits().max_deleted_rows);
}

TEST_F(RetentionRepoTest, KeptItemsOfASnapshotSpanningManyChunksCountOnce) {
  AddIds({EvmId(1), EvmId(2), EvmId(3), EvmId(4), EvmId(5)});
  // Five readings at once; then only accounts 1 to 4 are read again, so the
  // old snapshot keeps account 5's and loses four.
  v1::WriteSnapshotRequest old = Request("old", Ago(9000));
  for (int n = 1; n <= 5; ++n) AddAmount(&old, EvmId(n), kEth, "1");
  const std::string old_id = WriteSnap(old);
  v1::WriteSnapshotRequest recent = Request("recent", Ago(10));
  for (int n = 1; n <= 4; ++n) AddAmount(&recent, EvmId(n), kEth, "2");
  WriteSnap(recent);

  std::vector<v1::PruneResponse> chunks;
  v1::PruneResponse response = PruneOk(PruneBy(5000, 0, 0), PruneLimits{1}, &chunks);
  EXPECT_EQ(response.items_deleted(), 4u);
  EXPECT_EQ(response.items_kept(), 1u);
  EXPECT_EQ(response.snapshots_deleted(), 0u);
  // Four chunks of one item each, then one that finishes the snapshot.
  EXPECT_GE(chunks.size(), 5u);
  EXPECT_TRUE(HasSnapshot(old_id));
  EXPECT_EQ(Count("snapshot_items WHERE snapshot_id = " + old_id), 1);
}

TEST_F(RetentionRepoTest, FenceLostBetweenChunksStopsThePrune) {
  WriteHistory();
  PutLease("scheduler", "scheduler-0:a", 1, kNow + absl::Seconds(30));
  v1::PruneRequest request = PruneBy(5000, 0, 0);
  request.mutable_fence()->set_lease_name("scheduler");
  request.mutable_fence()->set_holder_id("scheduler-0:a");
  request.mutable_fence()->set_epoch(1);
  const PruneLimits limits{1};
  PruneProgress progress;
  v1::PruneResponse response;
  ASSERT_TRUE(RunChunk(request, limits, progress, &response).ok());
  ASSERT_FALSE(progress.finished());
  EXPECT_EQ(response.items_deleted(), 1u);
  EXPECT_EQ(Count("snapshot_items"), 7);

  // The lease expires (storage's clock at the next chunk is past it).
  absl::Status status =
      RunChunk(request, limits, progress, &response, nullptr, kNow + absl::Seconds(31));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "expired")) << status;

  // Another replica takes over.
  PutLease("scheduler", "scheduler-1:b", 2, kNow + absl::Seconds(30));
  status = RunChunk(request, limits, progress, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(Count("snapshot_items"), 7);
  EXPECT_EQ(response.items_deleted(), 1u);
}

TEST_F(RetentionRepoTest, CutoffsAreFixedByTheFirstChunk) {
  WriteHistory();
  v1::PruneRequest request = PruneBy(5000, 0, 0);
  const PruneLimits limits{1};
  PruneProgress progress;
  v1::PruneResponse response;
  ASSERT_TRUE(RunChunk(request, limits, progress, &response).ok());
  // Later chunks see a later clock: judged at their own time, s3's A/ETH and
  // s4's would be past the limit as well.
  for (int chunk = 0; chunk < 100 && !progress.finished(); ++chunk) {
    ASSERT_TRUE(
        RunChunk(request, limits, progress, &response, nullptr, kNow + absl::Seconds(7000)).ok());
  }
  ASSERT_TRUE(progress.finished());
  EXPECT_EQ(response.items_deleted(), 4u);
  EXPECT_EQ(response.items_kept(), 3u);
  EXPECT_EQ(response.snapshots_deleted(), 1u);
  EXPECT_EQ(Count("snapshot_items"), 4);
  EXPECT_TRUE(HasSnapshot(s3_));
}

TEST_F(RetentionRepoTest, KeepLastIsFixedByTheFirstChunk) {
  WriteHistory();
  v1::PruneRequest request = PruneBy(0, 2, 0);
  const PruneLimits limits{1};
  PruneProgress progress;
  v1::PruneResponse response;
  ASSERT_TRUE(RunChunk(request, limits, progress, &response).ok());
  // A newer snapshot written meanwhile does not push s3 out of the two newest
  // for this prune.
  v1::WriteSnapshotRequest s5 = Request("s5", Ago(50));
  AddAmount(&s5, EvmId(1), kEth, "14");
  WriteSnap(s5);
  for (int chunk = 0; chunk < 100 && !progress.finished(); ++chunk) {
    ASSERT_TRUE(RunChunk(request, limits, progress, &response).ok());
  }
  ASSERT_TRUE(progress.finished());
  // As ByCountKeepsNewest: s1 and s2 pruned, s3 untouched.
  EXPECT_EQ(response.items_deleted(), 3u);
  EXPECT_EQ(response.items_kept(), 2u);
  EXPECT_EQ(response.snapshots_deleted(), 1u);
  EXPECT_EQ(Count("snapshot_items WHERE snapshot_id = " + s3_), 2);
}

TEST_F(RetentionRepoTest, PricesSpanningChunksKeepLatestPerPair) {
  // Pairs sorting before and after each other, each with old prices, so the
  // price cursor crosses pair boundaries inside and between chunks.
  for (int i = 0; i < 4; ++i) {
    AddPrice(kEth, "eur", Ago(1000 + i));
    AddPrice(kEth, "usd", Ago(1000 + i));
    AddPrice(kUsdc, "usd", Ago(1000 + i));
  }
  AddPrice(kEth, "usd", Ago(10));
  const std::string before = LatestPrices();
  std::vector<v1::PruneResponse> chunks;
  v1::PruneResponse response = PruneOk(PruneBy(0, 0, 500), PruneLimits{2}, &chunks);
  // ETH/eur and USDC/usd keep their latest (Ago(1000)); ETH/usd keeps Ago(10).
  EXPECT_EQ(response.prices_deleted(), 3u + 4u + 3u);
  EXPECT_EQ(Count("prices"), 3);
  EXPECT_EQ(LatestPrices(), before);
  for (const v1::PruneResponse& chunk : chunks) EXPECT_LE(chunk.prices_deleted(), 2u);
}

TEST_F(RetentionRepoTest, EveryChunkValidates) {
  // A progress from a valid first chunk does not let an invalid request
  // through later.
  PruneProgress progress;
  v1::PruneResponse response;
  ASSERT_TRUE(RunChunk(PruneBy(0, 1, 0), PruneLimits{1}, progress, &response).ok());
  EXPECT_EQ(RunChunk(PruneBy(0, 0, 0), PruneLimits{1}, progress, &response).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::storage
