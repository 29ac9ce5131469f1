#include "services/storage/repos/snapshot_reads_repo.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "services/storage/repos/paging.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

class SnapshotReadsRepoTest : public RepoTestBase {
 protected:
  // Writes `request`; expects success and answers the stored summary.
  v1::Snapshot WriteSnap(const v1::WriteSnapshotRequest& request) {
    v1::WriteSnapshotResponse response;
    absl::Status status =
        Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, request, &response, kNow); });
    EXPECT_TRUE(status.ok()) << status;
    return response.snapshot();
  }
  // An empty snapshot taken at `taken_at_seconds`.
  v1::Snapshot WriteEmpty(const std::string& key, int64_t taken_at_seconds) {
    return WriteSnap(Request(key, taken_at_seconds));
  }
  absl::Status List(const v1::ListSnapshotsRequest& request, v1::ListSnapshotsResponse* response) {
    return Read([&](db::ReadContext& tx) { return ListSnapshots(tx, request, response); });
  }
  absl::Status Get(const v1::GetSnapshotRequest& request, v1::GetSnapshotResponse* response) {
    return Read([&](db::ReadContext& tx) { return GetSnapshot(tx, request, response); });
  }
  // Every page of `request`, as idempotency keys; expects success.
  std::vector<std::string> ListKeys(v1::ListSnapshotsRequest request, int* pages = nullptr) {
    std::vector<std::string> keys;
    int count = 0;
    do {
      v1::ListSnapshotsResponse response;
      absl::Status status = List(request, &response);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      ++count;
      for (const v1::Snapshot& snapshot : response.snapshots()) {
        keys.push_back(snapshot.idempotency_key());
      }
      request.mutable_page()->set_page_token(response.page().next_page_token());
    } while (!request.page().page_token().empty() && count < 100);
    if (pages != nullptr) *pages = count;
    return keys;
  }
  // Every page of `request`, as "account asset" strings; expects success.
  std::vector<std::string> GetItems(v1::GetSnapshotRequest request, int* pages = nullptr) {
    std::vector<std::string> items;
    int count = 0;
    do {
      v1::GetSnapshotResponse response;
      absl::Status status = Get(request, &response);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok()) break;
      ++count;
      for (const v1::BalanceItem& item : response.items()) {
        items.push_back(absl::StrCat(item.account_id(), " ", item.asset_id()));
      }
      request.mutable_page()->set_page_token(response.page().next_page_token());
    } while (!request.page().page_token().empty() && count < 100);
    if (pages != nullptr) *pages = count;
    return items;
  }
};

v1::ListSnapshotsRequest Range(int64_t start_seconds, int64_t end_seconds, int32_t page_size = 0) {
  v1::ListSnapshotsRequest request;
  if (start_seconds >= 0) request.mutable_start_time()->set_seconds(start_seconds);
  if (end_seconds >= 0) request.mutable_end_time()->set_seconds(end_seconds);
  request.mutable_page()->set_page_size(page_size);
  return request;
}

TEST_F(SnapshotReadsRepoTest, SnapshotIdsRoundTrip) {
  EXPECT_EQ(SnapshotIdText(42), "42");
  absl::StatusOr<int64_t> parsed = ParseSnapshotId("42", "snapshot_id");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, 42);
  for (const char* bad : {"", "0", "-1", "042", "+42", "4x", " 42", "99999999999999999999"}) {
    absl::StatusOr<int64_t> id = ParseSnapshotId(bad, "snapshot_id");
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(id.status().message(), "snapshot_id: ")) << id.status();
  }
}

TEST_F(SnapshotReadsRepoTest, ListsNewestFirstAcrossPages) {
  // Two share a taken_at: the newer id comes first, and a page boundary
  // between them loses neither.
  WriteEmpty("a", 1000);
  WriteEmpty("b", 3000);
  WriteEmpty("c", 2000);
  WriteEmpty("d", 2000);
  WriteEmpty("e", 4000);
  const std::vector<std::string> newest_first = {"e", "b", "d", "c", "a"};
  int pages = 0;
  EXPECT_EQ(ListKeys(Range(-1, -1, 2), &pages), newest_first);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ListKeys(Range(-1, -1, 3), &pages), newest_first);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(ListKeys(Range(-1, -1, 1), &pages), newest_first);
  EXPECT_EQ(pages, 5);
  // Exactly a page's worth: no token.
  v1::ListSnapshotsResponse response;
  ASSERT_TRUE(List(Range(-1, -1, 5), &response).ok());
  EXPECT_EQ(response.snapshots_size(), 5);
  EXPECT_TRUE(response.page().next_page_token().empty());
}

TEST_F(SnapshotReadsRepoTest, RangeIsStartInclusiveEndExclusive) {
  WriteEmpty("a", 1000);
  WriteEmpty("b", 2000);
  WriteEmpty("c", 3000);
  WriteEmpty("d", 4000);
  EXPECT_EQ(ListKeys(Range(2000, 4000)), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(ListKeys(Range(2000, -1)), (std::vector<std::string>{"d", "c", "b"}));
  EXPECT_EQ(ListKeys(Range(-1, 2000)), (std::vector<std::string>{"a"}));
  EXPECT_EQ(ListKeys(Range(2001, 2999)), std::vector<std::string>{});
  // Paged within a range.
  int pages = 0;
  EXPECT_EQ(ListKeys(Range(1000, 4000, 1), &pages), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(pages, 3);
}

TEST_F(SnapshotReadsRepoTest, ListAnswersTheSummaryWriteSnapshotAnswered) {
  AddIds({EvmId(1), EvmId(2)});
  v1::WriteSnapshotRequest request = Request("full", 1000);
  request.set_run_id("run-7");
  v1::BlockRef* block = request.add_blocks();
  block->set_chain_id("eip155:1");
  block->set_number(18000000);
  block->set_hash("0xabc");
  block->mutable_time()->set_seconds(999);
  AddAmount(&request, EvmId(1), kEth, "5");
  AddError(&request, EvmId(2), kEth, "down");
  AddAmount(&request, EvmId(9), kEth, "1");  // not registered: skipped
  const v1::Snapshot written = WriteSnap(request);
  ASSERT_EQ(written.items(), 2u);
  ASSERT_EQ(written.failed_items(), 1u);
  ASSERT_EQ(written.skipped_items(), 1u);
  v1::ListSnapshotsResponse response;
  ASSERT_TRUE(List({}, &response).ok());
  ASSERT_EQ(response.snapshots_size(), 1);
  EXPECT_EQ(response.snapshots(0).SerializeAsString(), written.SerializeAsString())
      << response.snapshots(0).DebugString();
  EXPECT_EQ(response.snapshots(0).blocks(0).time().seconds(), 999);
}

TEST_F(SnapshotReadsRepoTest, ListPageSizeDefaultsAndMaximum) {
  ASSERT_TRUE(Write([&](db::WriteContext& tx) -> absl::Status {
                for (int i = 0; i < 1001; ++i) {
                  v1::WriteSnapshotResponse response;
                  absl::Status status =
                      WriteSnapshot(tx, Request(absl::StrCat("k", i), 1000 + i), &response, kNow);
                  if (!status.ok()) return status;
                }
                return absl::OkStatus();
              }).ok());
  v1::ListSnapshotsResponse response;
  ASSERT_TRUE(List({}, &response).ok());
  EXPECT_EQ(response.snapshots_size(), 100);
  EXPECT_EQ(response.snapshots(0).idempotency_key(), "k1000");
  EXPECT_FALSE(response.page().next_page_token().empty());
  ASSERT_TRUE(List(Range(-1, -1, 5000), &response).ok());
  EXPECT_EQ(response.snapshots_size(), 1000);
  EXPECT_FALSE(response.page().next_page_token().empty());
}

TEST_F(SnapshotReadsRepoTest, ListRefusesBadPagesAndTimes) {
  WriteEmpty("a", 1000);
  WriteEmpty("b", 2000);
  v1::ListSnapshotsResponse response;
  absl::Status status = List(Range(-1, -1, -1), &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "page.page_size")) << status;

  ASSERT_TRUE(List(Range(-1, -1, 1), &response).ok());
  const std::string token = response.page().next_page_token();
  ASSERT_FALSE(token.empty());
  // The token belongs to the open range, not to another one.
  v1::ListSnapshotsRequest other = Range(500, -1, 1);
  other.mutable_page()->set_page_token(token);
  status = List(other, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "page.page_token")) << status;
  // Garbage, the kind alone, and the right kind and range around a cursor
  // that is not a (time, id) pair.
  for (const std::string& bad : {std::string("garbage"), std::string("c25hcHNob3RzLXYx"),
                                 EncodePageToken("snapshots-v1", "-|-", {"late", "1"}),
                                 EncodePageToken("snapshots-v1", "-|-", {"1000"})}) {
    v1::ListSnapshotsRequest request = Range(-1, -1, 1);
    request.mutable_page()->set_page_token(bad);
    EXPECT_EQ(List(request, &response).code(), absl::StatusCode::kInvalidArgument) << bad;
  }

  v1::ListSnapshotsRequest far;
  far.mutable_start_time()->set_seconds(int64_t{1} << 40);
  status = List(far, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "start_time")) << status;
}

TEST_F(SnapshotReadsRepoTest, GetAnswersItemsAsStored) {
  AddIds({EvmId(1), EvmId(2), EvmId(3)});
  v1::WriteSnapshotRequest request = Request("items", 1000);
  // Written out of order: answered by account, then asset.
  AddError(&request, EvmId(3), kEth, "rate limited")
      ->mutable_error()
      ->mutable_retry_after()
      ->set_seconds(30);
  v1::BalanceItem* full = AddAmount(&request, EvmId(1), kEth, "1500", 18);
  full->set_block_number(18000000);
  full->set_block_hash("0xbeef");
  full->set_source("mainnet-1");
  full->mutable_fetched_at()->set_seconds(990);
  full->mutable_unconfirmed_incoming()->set_units("7");
  full->mutable_unconfirmed_incoming()->set_decimals(8);
  full->mutable_unconfirmed_outgoing()->set_units("3");
  full->mutable_unconfirmed_outgoing()->set_decimals(8);
  AddAmount(&request, EvmId(1), kUsdc, "0", 6);
  AddError(&request, EvmId(2), kUsdc, "all endpoints failed");
  const v1::Snapshot written = WriteSnap(request);

  v1::GetSnapshotRequest get;
  get.set_snapshot_id(written.snapshot_id());
  v1::GetSnapshotResponse response;
  ASSERT_TRUE(Get(get, &response).ok());
  EXPECT_EQ(response.snapshot().SerializeAsString(), written.SerializeAsString());
  EXPECT_TRUE(response.page().next_page_token().empty());
  ASSERT_EQ(response.items_size(), 4);
  // "erc20" sorts before "slip44".
  EXPECT_EQ(response.items(0).account_id(), EvmId(1));
  EXPECT_EQ(response.items(0).asset_id(), kUsdc);
  EXPECT_EQ(response.items(0).amount().units(), "0");
  EXPECT_EQ(response.items(0).amount().decimals(), 6u);
  EXPECT_FALSE(response.items(0).has_block_number());
  // The full item comes back field for field.
  EXPECT_EQ(response.items(1).SerializeAsString(), full->SerializeAsString())
      << response.items(1).DebugString();
  EXPECT_EQ(response.items(2).account_id(), EvmId(2));
  EXPECT_EQ(response.items(2).error().code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(response.items(2).error().message(), "all endpoints failed");
  EXPECT_EQ(response.items(2).error().upstream(), "mainnet-1");
  EXPECT_FALSE(response.items(2).has_amount());
  EXPECT_FALSE(response.items(2).error().has_retry_after());
  EXPECT_EQ(response.items(3).account_id(), EvmId(3));
  EXPECT_EQ(response.items(3).error().retry_after().seconds(), 30);

  get.set_failed_only(true);
  ASSERT_TRUE(Get(get, &response).ok());
  ASSERT_EQ(response.items_size(), 2);
  EXPECT_EQ(response.items(0).account_id(), EvmId(2));
  EXPECT_EQ(response.items(1).account_id(), EvmId(3));
  // The summary still counts every item.
  EXPECT_EQ(response.snapshot().items(), 4u);
}

TEST_F(SnapshotReadsRepoTest, GetPagesItemsAndFailedOnly) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) ids.push_back(EvmId(i));
  AddIds(ids);
  v1::WriteSnapshotRequest request = Request("paged", 1000);
  std::vector<std::string> all;
  std::vector<std::string> failed;
  for (int i = 1; i <= 5; ++i) {
    AddAmount(&request, EvmId(i), kUsdc, "1", 6);
    all.push_back(absl::StrCat(EvmId(i), " ", kUsdc));
    if (i % 2 == 1) {
      AddError(&request, EvmId(i), kEth, "down");
      failed.push_back(absl::StrCat(EvmId(i), " ", kEth));
    } else {
      AddAmount(&request, EvmId(i), kEth, "2");
    }
    all.push_back(absl::StrCat(EvmId(i), " ", kEth));
  }
  // Another snapshot's items stay out.
  v1::WriteSnapshotRequest other = Request("other", 2000);
  AddError(&other, EvmId(1), kUsdc, "down");
  WriteSnap(other);
  const v1::Snapshot written = WriteSnap(request);

  v1::GetSnapshotRequest get;
  get.set_snapshot_id(written.snapshot_id());
  get.mutable_page()->set_page_size(3);
  int pages = 0;
  EXPECT_EQ(GetItems(get, &pages), all);
  EXPECT_EQ(pages, 4);
  get.mutable_page()->set_page_size(1);
  EXPECT_EQ(GetItems(get, &pages), all);
  EXPECT_EQ(pages, 10);
  get.set_failed_only(true);
  get.mutable_page()->set_page_size(2);
  EXPECT_EQ(GetItems(get, &pages), failed);
  EXPECT_EQ(pages, 2);

  // A token is bound to its snapshot and to failed_only.
  v1::GetSnapshotResponse response;
  get.set_failed_only(false);
  ASSERT_TRUE(Get(get, &response).ok());
  ASSERT_FALSE(response.page().next_page_token().empty());
  v1::GetSnapshotRequest changed = get;
  changed.mutable_page()->set_page_token(response.page().next_page_token());
  changed.set_failed_only(true);
  absl::Status status = Get(changed, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "page.page_token")) << status;
  ASSERT_TRUE(Get(get, &response).ok());
  changed = get;
  changed.mutable_page()->set_page_token(response.page().next_page_token());
  changed.set_snapshot_id("1");
  EXPECT_EQ(Get(changed, &response).code(), absl::StatusCode::kInvalidArgument);
  changed = get;
  changed.mutable_page()->set_page_token("bm9wZQ");
  EXPECT_EQ(Get(changed, &response).code(), absl::StatusCode::kInvalidArgument);
  changed.mutable_page()->set_page_token("");
  changed.mutable_page()->set_page_size(-5);
  status = Get(changed, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "page.page_size")) << status;
}

TEST_F(SnapshotReadsRepoTest, GetItemsPageSizeDefaultsAndMaximum) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 10001; ++i) ids.push_back(EvmId(i));
  AddIds(std::vector<std::string>(ids.begin(), ids.begin() + 5000));
  AddIds(std::vector<std::string>(ids.begin() + 5000, ids.end()));
  v1::WriteSnapshotRequest request = Request("big", 1000);
  for (const std::string& id : ids) AddAmount(&request, id, kEth, "1");
  const v1::Snapshot written = WriteSnap(request);
  ASSERT_EQ(written.items(), 10001u);
  v1::GetSnapshotRequest get;
  get.set_snapshot_id(written.snapshot_id());
  v1::GetSnapshotResponse response;
  ASSERT_TRUE(Get(get, &response).ok());
  EXPECT_EQ(response.items_size(), 1000);
  EXPECT_FALSE(response.page().next_page_token().empty());
  get.mutable_page()->set_page_size(50000);
  ASSERT_TRUE(Get(get, &response).ok());
  EXPECT_EQ(response.items_size(), 10000);
  get.mutable_page()->set_page_token(response.page().next_page_token());
  ASSERT_TRUE(Get(get, &response).ok());
  ASSERT_EQ(response.items_size(), 1);
  EXPECT_EQ(response.items(0).account_id(), EvmId(10001));
  EXPECT_TRUE(response.page().next_page_token().empty());
}

TEST_F(SnapshotReadsRepoTest, GetRefusesMissingBadAndUnknownIds) {
  const v1::Snapshot written = WriteEmpty("a", 1000);
  v1::GetSnapshotRequest get;
  v1::GetSnapshotResponse response;
  absl::Status status = Get(get, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "snapshot_id: required");
  for (const char* bad : {"abc", "0", "-3", "01", "1.0"}) {
    get.set_snapshot_id(bad);
    status = Get(get, &response);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(status.message(), "snapshot_id: ")) << status;
  }
  get.set_snapshot_id(absl::StrCat(*ParseSnapshotId(written.snapshot_id(), "id") + 1));
  status = Get(get, &response);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(status.message(), get.snapshot_id())) << status;
  // An empty snapshot answers its summary and no items.
  get.set_snapshot_id(written.snapshot_id());
  ASSERT_TRUE(Get(get, &response).ok());
  EXPECT_EQ(response.snapshot().idempotency_key(), "a");
  EXPECT_EQ(response.items_size(), 0);
  EXPECT_TRUE(response.page().next_page_token().empty());
}

}  // namespace
}  // namespace coffer::storage
