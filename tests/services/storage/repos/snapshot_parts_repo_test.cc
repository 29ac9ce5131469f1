// Snapshots written in parts (snapshot_parts_repo.h) and committed by
// WriteSnapshot with parts (snapshots_repo.h): that the committed snapshot
// is the one a single write of the same items stores, that parts stay out of
// latest balances and history until the commit, and every refusal the proto
// lists.
#include "services/storage/repos/snapshot_parts_repo.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

#include "services/storage/repos/digest.h"
#include "services/storage/repos/snapshots_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

constexpr int64_t kTakenAt = 1699999000;

// Part `part` of `key` holding `whole`'s items [begin, end).
v1::WriteSnapshotPartRequest PartOf(const v1::WriteSnapshotRequest& whole, uint32_t part, int begin,
                                    int end) {
  v1::WriteSnapshotPartRequest request;
  request.set_idempotency_key(whole.idempotency_key());
  request.set_part(part);
  *request.mutable_taken_at() = whole.taken_at();
  for (int i = begin; i < end; ++i) *request.add_items() = whole.items(i);
  return request;
}

// The commit of `whole` with `parts` parts: the same request with only its
// items [begin, end) (default: to the last), those its parts do not hold.
v1::WriteSnapshotRequest CommitOf(const v1::WriteSnapshotRequest& whole, uint32_t parts, int begin,
                                  int end = -1) {
  v1::WriteSnapshotRequest request = whole;
  request.set_parts(parts);
  request.clear_items();
  if (end < 0) end = whole.items_size();
  for (int i = begin; i < end; ++i) *request.add_items() = whole.items(i);
  return request;
}

class SnapshotPartsTest : public RepoTestBase {
 protected:
  absl::Status WritePart(const v1::WriteSnapshotPartRequest& request,
                         v1::WriteSnapshotPartResponse* response, absl::Time now = kNow) {
    return Write(
        [&](db::WriteContext& tx) { return WriteSnapshotPart(tx, request, response, now); });
  }
  absl::Status WritePart(const v1::WriteSnapshotPartRequest& request) {
    v1::WriteSnapshotPartResponse response;
    return WritePart(request, &response);
  }
  absl::Status WriteSnap(const v1::WriteSnapshotRequest& request,
                         v1::WriteSnapshotResponse* response, absl::Time now = kNow) {
    return Write([&](db::WriteContext& tx) { return WriteSnapshot(tx, request, response, now); });
  }
  absl::Status WriteSnap(const v1::WriteSnapshotRequest& request, absl::Time now = kNow) {
    v1::WriteSnapshotResponse response;
    return WriteSnap(request, &response, now);
  }

  // The rows `sql` selects, a line each, columns separated by '|'.
  std::string Rows(const std::string& sql) {
    std::string rows;
    absl::Status status = Read([&](db::ReadContext& tx) -> absl::Status {
      absl::StatusOr<db::CachedStatement> select = tx.Prepare(sql);
      if (!select.ok()) return select.status();
      while (true) {
        absl::StatusOr<bool> row = (*select)->Step();
        if (!row.ok()) return row.status();
        if (!*row) return absl::OkStatus();
        std::vector<std::string> columns;
        for (int i = 0; i < (*select)->ColumnCount(); ++i) {
          columns.push_back((*select)->ColumnIsNull(i) ? "NULL"
                                                       : std::string((*select)->ColumnText(i)));
        }
        absl::StrAppend(&rows, absl::StrJoin(columns, "|"), "\n");
      }
    });
    EXPECT_TRUE(status.ok()) << status;
    return rows;
  }

  // Everything a written snapshot leaves in the database but its content
  // hash (a snapshot with parts has its own) and item ids (the order items
  // were inserted in): latest balances name the items they come from by
  // their snapshot, account and asset.
  std::string Dump() {
    return absl::StrCat(
        "snapshots\n",
        Rows("SELECT snapshot_id, idempotency_key, taken_at, written_at, run_id, items, "
             "failed_items, skipped_items, open_since FROM snapshots ORDER BY snapshot_id"),
        "blocks\n", Rows("SELECT * FROM snapshot_blocks ORDER BY snapshot_id, chain_id"), "items\n",
        Rows("SELECT snapshot_id, account_id, asset_id, taken_at, units, decimals, error_code, "
             "error_message, error_upstream, error_retry_after_ns, block_number, block_hash, "
             "source, fetched_at, unconfirmed_incoming_units, unconfirmed_incoming_decimals, "
             "unconfirmed_outgoing_units, unconfirmed_outgoing_decimals FROM snapshot_items "
             "ORDER BY snapshot_id, account_id, asset_id"),
        "latest\n",
        Rows("SELECT lb.account_id, lb.asset_id, li.snapshot_id, li.account_id, li.asset_id, "
             "lb.last_attempt_at, vi.snapshot_id, vi.account_id, vi.asset_id, "
             "lb.value_snapshot_id, lb.units, lb.decimals, lb.as_of, lb.block_number, "
             "lb.error_code, lb.error_message, lb.error_upstream FROM latest_balances lb "
             "JOIN snapshot_items li ON li.item_id = lb.last_item_id LEFT JOIN snapshot_items "
             "vi ON vi.item_id = lb.value_item_id ORDER BY lb.account_id, lb.asset_id"),
        "history\n",
        Rows("SELECT h.account_id, h.taken_at, h.snapshot_id, h.asset_id, i.account_id, "
             "i.asset_id FROM account_history h JOIN snapshot_items i ON i.item_id = h.item_id "
             "ORDER BY 1, 2, 3, 4"),
        "pending\n", Rows("SELECT * FROM account_history_pending ORDER BY snapshot_id"));
  }

  // Starts over on an empty database.
  void Reopen() {
    TearDown();
    SetUp();
  }
};

// A value for each of the registered accounts (Registered(): 1 to 6).
v1::WriteSnapshotRequest Earlier() {
  v1::WriteSnapshotRequest request = Request("run-0", kTakenAt - 600);
  for (int n = 1; n <= 6; ++n) {
    AddAmount(&request, EvmId(n), kEth, absl::StrCat(n * 10))->set_block_number(100);
  }
  return request;
}

// 16 items: ether and USDC of accounts 1 to 8 (7 and 8 not registered),
// values, failures of accounts 3 and 6 (which hold an earlier value), and
// every field an item may carry.
v1::WriteSnapshotRequest Whole() {
  v1::WriteSnapshotRequest request = Request("run-1", kTakenAt);
  request.set_run_id("run-1");
  v1::BlockRef* block = request.add_blocks();
  block->set_chain_id("eip155:1");
  block->set_number(18000000);
  block->set_hash("0xabc");
  block->mutable_time()->set_seconds(kTakenAt - 10);
  for (int n = 1; n <= 8; ++n) {
    if (n % 3 == 0) {
      // A failure: the earlier value stays the latest value.
      AddError(&request, EvmId(n), kEth, absl::StrCat("down ", n))
          ->mutable_error()
          ->mutable_retry_after()
          ->set_seconds(n);
    } else {
      v1::BalanceItem* item = AddAmount(&request, EvmId(n), kEth, absl::StrCat(n * 100));
      item->set_block_number(18000000 + n);
      item->set_source("anvil");
      item->mutable_fetched_at()->set_seconds(kTakenAt + n);
    }
    AddAmount(&request, EvmId(n), kUsdc, absl::StrCat(n), 6)
        ->mutable_unconfirmed_incoming()
        ->set_units("5");
  }
  return request;
}

// The accounts Earlier() and Whole() name that are registered.
std::vector<std::string> Registered() {
  return {EvmId(1), EvmId(2), EvmId(3), EvmId(4), EvmId(5), EvmId(6)};
}

TEST_F(SnapshotPartsTest, PartsThenCommitStoreWhatOneWriteStores) {
  const v1::WriteSnapshotRequest earlier = Earlier();
  const v1::WriteSnapshotRequest whole = Whole();
  AddIds(Registered());
  ASSERT_TRUE(WriteSnap(earlier).ok());
  v1::WriteSnapshotResponse single;
  ASSERT_TRUE(WriteSnap(whole, &single, kNow + absl::Seconds(1)).ok());
  const std::string expected = Dump();

  Reopen();
  AddIds(Registered());
  ASSERT_TRUE(WriteSnap(earlier).ok());
  // Parts written a second before the commit: written_at is the commit's.
  v1::WriteSnapshotPartResponse part;
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 0, 6), &part).ok());
  EXPECT_EQ(part.items(), 6u);
  EXPECT_EQ(part.failed_items(), 1u);
  EXPECT_EQ(part.skipped_items(), 0u);
  EXPECT_FALSE(part.already_written());
  ASSERT_TRUE(WritePart(PartOf(whole, 1, 6, 14), &part).ok());
  EXPECT_EQ(part.items(), 6u);
  EXPECT_EQ(part.failed_items(), 1u);
  EXPECT_EQ(part.skipped_items(), 2u);  // account 7
  v1::WriteSnapshotResponse committed;
  ASSERT_TRUE(WriteSnap(CommitOf(whole, 2, 14), &committed, kNow + absl::Seconds(1)).ok());
  EXPECT_FALSE(committed.already_written());
  EXPECT_EQ(Dump(), expected);

  // The answer is the single write's but for its id's own.
  v1::Snapshot answered = committed.snapshot();
  answered.set_snapshot_id(single.snapshot().snapshot_id());
  EXPECT_EQ(answered.SerializeAsString(), single.snapshot().SerializeAsString());
  EXPECT_EQ(committed.snapshot().items(), 12u);
  EXPECT_EQ(committed.snapshot().failed_items(), 2u);
  EXPECT_EQ(committed.snapshot().skipped_items(), 4u);
}

TEST_F(SnapshotPartsTest, AFailedReadingInAPartKeepsTheLatestValue) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest earlier = Request("run-0", kTakenAt - 600);
  AddAmount(&earlier, EvmId(1), kEth, "42")->set_block_number(7);
  v1::WriteSnapshotResponse first;
  ASSERT_TRUE(WriteSnap(earlier, &first).ok());

  v1::WriteSnapshotRequest whole = Request("run-1", kTakenAt);
  AddError(&whole, EvmId(1), kEth, "rate limited");
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 0, 1)).ok());
  ASSERT_TRUE(WriteSnap(CommitOf(whole, 1, 1)).ok());

  v1::GetLatestBalancesResponse latest;
  ASSERT_TRUE(
      Read([&](db::ReadContext& tx) { return GetLatestBalances(tx, {}, &latest, kNow); }).ok());
  ASSERT_EQ(latest.balances_size(), 1);
  const v1::LatestBalance& balance = latest.balances(0);
  EXPECT_EQ(balance.amount().units(), "42");
  EXPECT_EQ(balance.as_of().seconds(), kTakenAt - 600);
  EXPECT_EQ(balance.block_number(), 7u);
  EXPECT_EQ(balance.snapshot_id(), first.snapshot().snapshot_id());
  EXPECT_EQ(balance.error().message(), "rate limited");
  EXPECT_EQ(balance.last_attempt_at().seconds(), kTakenAt);
}

TEST_F(SnapshotPartsTest, PartsTouchNeitherLatestBalancesNorHistoryUntilTheCommit) {
  AddIds(Registered());
  const v1::WriteSnapshotRequest whole = Whole();
  ASSERT_TRUE(WritePart(PartOf(whole, 1, 8, 16)).ok());
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 0, 8)).ok());
  EXPECT_EQ(Count("snapshot_items"), 12);
  EXPECT_EQ(Count("latest_balances"), 0);
  EXPECT_EQ(Count("account_history"), 0);
  EXPECT_EQ(Count("account_history_pending"), 0);
  EXPECT_EQ(Count("snapshot_blocks"), 0);
  // One open row: its first part's time, no counts, hash or run yet.
  EXPECT_EQ(Rows("SELECT idempotency_key, length(content_hash), taken_at, written_at, run_id, "
                 "items, failed_items, skipped_items, open_since FROM snapshots"),
            absl::StrCat("run-1|0|", kTakenAt * 1000000000, "|", absl::ToUnixNanos(kNow),
                         "||0|0|0|", absl::ToUnixNanos(kNow), "\n"));
  EXPECT_EQ(Rows("SELECT part, items, failed_items, skipped_items FROM snapshot_parts "
                 "ORDER BY part"),
            "0|8|1|0\n1|4|1|4\n");

  ASSERT_TRUE(WriteSnap(CommitOf(whole, 2, 16), kNow + absl::Minutes(1)).ok());
  EXPECT_EQ(Count("latest_balances"), 12);
  EXPECT_EQ(Rows("SELECT items FROM account_history_pending"), "12\n");
  EXPECT_EQ(Rows("SELECT written_at, run_id, items, failed_items, skipped_items, open_since "
                 "FROM snapshots"),
            absl::StrCat(absl::ToUnixNanos(kNow + absl::Minutes(1)), "|run-1|12|2|4|NULL\n"));
  EXPECT_EQ(Count("snapshot_blocks"), 1);
}

TEST_F(SnapshotPartsTest, ARetriedPartIsAlreadyWrittenAndOtherContentAlreadyExists) {
  AddIds(Registered());
  PutLease(kLease, kHolder, kEpoch, kNow + absl::Hours(1));
  const v1::WriteSnapshotRequest whole = Whole();
  v1::WriteSnapshotPartRequest part = PartOf(whole, 0, 10, 16);
  *part.mutable_fence() = CurrentFence();
  v1::WriteSnapshotPartResponse first;
  ASSERT_TRUE(WritePart(part, &first).ok());
  EXPECT_FALSE(first.already_written());

  // The same content again, even from a writer that lost its lease since
  // (the fence is not content, and is checked after): what was stored.
  part.mutable_fence()->set_epoch(kEpoch + 1);
  v1::WriteSnapshotPartResponse retry;
  absl::Status status = WritePart(part, &retry, kNow + absl::Minutes(1));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(retry.already_written());
  EXPECT_EQ(retry.items(), first.items());
  EXPECT_EQ(retry.failed_items(), first.failed_items());
  EXPECT_EQ(retry.skipped_items(), first.skipped_items());
  EXPECT_EQ(retry.skipped_items(), 4u);
  EXPECT_EQ(Count("snapshot_items"), 2);
  EXPECT_EQ(Count("snapshot_parts"), 1);

  // Other content under the same part number.
  *part.mutable_fence() = CurrentFence();
  part.mutable_items(0)->mutable_amount()->set_units("7");
  status = WritePart(part, &retry);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "part: 0")) << status;
  EXPECT_EQ(Count("snapshot_items"), 2);

  // After the commit: the parts committed answer as before, others are a
  // conflict.
  ASSERT_TRUE(WriteSnap(CommitOf(whole, 1, 0, 10)).ok());
  part = PartOf(whole, 0, 10, 16);
  ASSERT_TRUE(WritePart(part, &retry).ok());
  EXPECT_TRUE(retry.already_written());
  EXPECT_EQ(retry.items(), first.items());
  part.mutable_items(0)->mutable_amount()->set_units("7");
  EXPECT_EQ(WritePart(part).code(), absl::StatusCode::kAlreadyExists);
  status = WritePart(PartOf(whole, 1, 0, 10));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "committed without part 1")) << status;
  // Nor does a key written whole take parts.
  v1::WriteSnapshotRequest single = Request("single", kTakenAt);
  AddAmount(&single, EvmId(1), kEth, "1");
  ASSERT_TRUE(WriteSnap(single).ok());
  v1::WriteSnapshotPartRequest late = PartOf(single, 0, 0, 1);
  EXPECT_EQ(WritePart(late).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Count("snapshot_items"), 13);
}

TEST_F(SnapshotPartsTest, ARetriedCommitIsAlreadyWrittenAndAnotherAlreadyExists) {
  AddIds(Registered());
  const v1::WriteSnapshotRequest whole = Whole();
  const v1::WriteSnapshotPartRequest part0 = PartOf(whole, 0, 0, 5);
  const v1::WriteSnapshotPartRequest part1 = PartOf(whole, 1, 5, 12);
  const v1::WriteSnapshotRequest commit = CommitOf(whole, 2, 12);
  ASSERT_TRUE(WritePart(part0).ok());
  ASSERT_TRUE(WritePart(part1).ok());
  v1::WriteSnapshotResponse first;
  ASSERT_TRUE(WriteSnap(commit, &first).ok());

  // The stored hash: the commit's own, then its parts', in part order.
  absl::StatusOr<PreparedSnapshot> prepared_commit = PrepareSnapshot(commit);
  absl::StatusOr<PreparedSnapshotPart> prepared0 = PrepareSnapshotPart(part0);
  absl::StatusOr<PreparedSnapshotPart> prepared1 = PrepareSnapshotPart(part1);
  ASSERT_TRUE(prepared_commit.ok() && prepared0.ok() && prepared1.ok());
  absl::StatusOr<std::string> expected = Sha256(absl::StrCat(
      prepared_commit->content_hash, prepared0->content_hash, prepared1->content_hash));
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(Rows("SELECT hex(content_hash) FROM snapshots"),
            absl::StrCat(absl::AsciiStrToUpper(absl::BytesToHexString(*expected)), "\n"));
  // A part's hash is its deterministic serialization's, without the fence.
  v1::WriteSnapshotPartRequest fenced = part0;
  *fenced.mutable_fence() = CurrentFence();
  absl::StatusOr<PreparedSnapshotPart> prepared_fenced = PrepareSnapshotPart(fenced);
  ASSERT_TRUE(prepared_fenced.ok());
  EXPECT_EQ(prepared_fenced->content_hash, prepared0->content_hash);
  EXPECT_EQ(prepared0->content_hash.size(), 32u);
  EXPECT_NE(prepared0->content_hash, prepared1->content_hash);

  const std::string stored = Dump();
  v1::WriteSnapshotResponse retry;
  absl::Status status = WriteSnap(commit, &retry, kNow + absl::Minutes(5));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(retry.already_written());
  EXPECT_EQ(retry.snapshot().SerializeAsString(), first.snapshot().SerializeAsString());
  EXPECT_EQ(Dump(), stored);

  // Other items of its own, another parts count, none: another snapshot.
  v1::WriteSnapshotRequest other = commit;
  other.mutable_items(0)->mutable_amount()->set_units("1");
  status = WriteSnap(other);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  other = commit;
  other.set_parts(1);
  EXPECT_EQ(WriteSnap(other).code(), absl::StatusCode::kAlreadyExists);
  other.set_parts(0);
  EXPECT_EQ(WriteSnap(other).code(), absl::StatusCode::kAlreadyExists);
  // The whole snapshot in one write is not the same content either.
  EXPECT_EQ(WriteSnap(whole).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Dump(), stored);
}

TEST_F(SnapshotPartsTest, EveryPartMustBeThereAndNoMore) {
  AddIds(Registered());
  const v1::WriteSnapshotRequest whole = Whole();
  // No part at all.
  absl::Status status = WriteSnap(CommitOf(whole, 2, 0));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(),
                                "part 0 of idempotency_key \"run-1\" was never "
                                "written"))
      << status;
  EXPECT_EQ(Count("snapshots"), 0);

  // Parts 2 and 4 of 0 to 4.
  ASSERT_TRUE(WritePart(PartOf(whole, 2, 0, 4)).ok());
  ASSERT_TRUE(WritePart(PartOf(whole, 4, 4, 8)).ok());
  status = WriteSnap(CommitOf(whole, 5, 8));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "part 0 ")) << status;
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 8, 10)).ok());
  status = WriteSnap(CommitOf(whole, 5, 10));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "part 1 ")) << status;
  ASSERT_TRUE(WritePart(PartOf(whole, 1, 10, 12)).ok());
  status = WriteSnap(CommitOf(whole, 5, 12));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "part 3 ")) << status;
  ASSERT_TRUE(WritePart(PartOf(whole, 3, 12, 14)).ok());
  // Part 4 beyond the 4 committed would be dropped.
  status = WriteSnap(CommitOf(whole, 4, 14));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "has part 4 written")) << status;
  // Nor may a write without parts drop them.
  status = WriteSnap(CommitOf(whole, 0, 14));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "parts: 0")) << status;
  // Nothing of these was committed.
  EXPECT_EQ(Count("latest_balances"), 0);
  EXPECT_EQ(Count("account_history_pending"), 0);
  EXPECT_EQ(Rows("SELECT open_since IS NOT NULL, items FROM snapshots"), "1|0\n");

  // In whatever order they were written, all five commit.
  v1::WriteSnapshotResponse committed;
  status = WriteSnap(CommitOf(whole, 5, 14), &committed);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(committed.snapshot().items(), 12u);
  EXPECT_EQ(committed.snapshot().skipped_items(), 4u);
  EXPECT_EQ(Count("latest_balances"), 12);
}

TEST_F(SnapshotPartsTest, TakenAtIsRequiredAndTheSameEverywhere) {
  AddIds(Registered());
  const v1::WriteSnapshotRequest whole = Whole();
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 0, 4)).ok());
  v1::WriteSnapshotPartRequest later = PartOf(whole, 1, 4, 8);
  later.mutable_taken_at()->set_seconds(kTakenAt + 1);
  absl::Status status = WritePart(later);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "taken_at: ")) << status;
  later.clear_taken_at();
  status = WritePart(later);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), "taken_at: required");
  EXPECT_EQ(Count("snapshot_parts"), 1);

  v1::WriteSnapshotRequest commit = CommitOf(whole, 1, 4);
  commit.mutable_taken_at()->set_nanos(1);
  status = WriteSnap(commit);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "taken_at: ")) << status;
  commit.clear_taken_at();
  status = WriteSnap(commit);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), "taken_at: required with parts");
  EXPECT_EQ(Count("latest_balances"), 0);
  ASSERT_TRUE(WriteSnap(CommitOf(whole, 1, 4)).ok());
}

TEST_F(SnapshotPartsTest, AnAccountAndAssetIsInOnePartOnly) {
  AddIds(Registered());
  const v1::WriteSnapshotRequest whole = Whole();
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 0, 4)).ok());
  // Items 3 and 5 of the whole: the second of this part names item 3 again.
  v1::WriteSnapshotPartRequest again = PartOf(whole, 1, 5, 6);
  *again.add_items() = whole.items(3);
  absl::Status status = WritePart(again);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), absl::StrCat("items[1]: account ", EvmId(2), " and asset ", kUsdc,
                                           " also in another part of the snapshot"));
  EXPECT_EQ(Count("snapshot_items"), 4);
  EXPECT_EQ(Count("snapshot_parts"), 1);

  // Also the commit's own items.
  v1::WriteSnapshotRequest commit = CommitOf(whole, 1, 4);
  *commit.add_items() = whole.items(0);
  status = WriteSnap(commit);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), absl::StrCat("items[12]: account ", EvmId(1), " and asset ", kEth,
                                           " also in another part of the snapshot"));
  EXPECT_EQ(Count("snapshot_items"), 4);
  EXPECT_EQ(Count("latest_balances"), 0);

  // An item of an unregistered account is skipped, whichever part has it.
  v1::WriteSnapshotPartRequest skipped = PartOf(whole, 1, 12, 13);
  v1::WriteSnapshotPartResponse response;
  ASSERT_TRUE(WritePart(skipped, &response).ok());
  EXPECT_EQ(response.skipped_items(), 1u);
  skipped.set_part(2);
  ASSERT_TRUE(WritePart(skipped, &response).ok());
  EXPECT_EQ(response.skipped_items(), 1u);
}

TEST_F(SnapshotPartsTest, UnregisteredAccountsAreSkippedAndCountedAcrossParts) {
  AddIds({EvmId(1)});
  v1::WriteSnapshotRequest whole = Request("run-1", kTakenAt);
  AddAmount(&whole, EvmId(1), kEth, "1");
  AddAmount(&whole, EvmId(2), kEth, "2");
  AddError(&whole, EvmId(3), kEth, "x");
  AddAmount(&whole, EvmId(1), kUsdc, "1", 6);
  AddAmount(&whole, EvmId(4), kUsdc, "4", 6);
  AddError(&whole, EvmId(1), "eip155:1/erc20:0xdAC17F958D2ee523a2206206994597C13D831ec7", "y");
  AddAmount(&whole, EvmId(5), kUsdc, "5", 6);
  v1::WriteSnapshotPartResponse part;
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 0, 3), &part).ok());
  EXPECT_EQ(part.items(), 1u);
  EXPECT_EQ(part.skipped_items(), 2u);
  ASSERT_TRUE(WritePart(PartOf(whole, 1, 3, 5), &part).ok());
  EXPECT_EQ(part.items(), 1u);
  EXPECT_EQ(part.skipped_items(), 1u);
  v1::WriteSnapshotResponse committed;
  ASSERT_TRUE(WriteSnap(CommitOf(whole, 2, 5), &committed).ok());
  EXPECT_EQ(committed.snapshot().items(), 3u);
  EXPECT_EQ(committed.snapshot().failed_items(), 1u);
  EXPECT_EQ(committed.snapshot().skipped_items(), 4u);
  EXPECT_EQ(Count("snapshot_items"), 3);
  EXPECT_EQ(Count("latest_balances"), 3);
}

TEST_F(SnapshotPartsTest, FenceIsCheckedForEachPartAndTheCommit) {
  AddIds(Registered());
  PutLease(kLease, kHolder, kEpoch, kNow + absl::Seconds(30));
  const v1::WriteSnapshotRequest whole = Whole();
  v1::WriteSnapshotPartRequest part = PartOf(whole, 0, 0, 4);
  *part.mutable_fence() = CurrentFence();
  ASSERT_TRUE(WritePart(part).ok());
  // Expired for part 1, and for a first part too.
  part = PartOf(whole, 1, 4, 8);
  *part.mutable_fence() = CurrentFence();
  v1::WriteSnapshotPartResponse response;
  EXPECT_EQ(WritePart(part, &response, kNow + absl::Seconds(30)).code(),
            absl::StatusCode::kFailedPrecondition);
  part.mutable_fence()->set_epoch(kEpoch - 1);
  EXPECT_EQ(WritePart(part).code(), absl::StatusCode::kFailedPrecondition);
  part.mutable_fence()->set_holder_id("");
  EXPECT_EQ(WritePart(part).code(), absl::StatusCode::kInvalidArgument);
  v1::WriteSnapshotPartRequest other_key = PartOf(whole, 0, 4, 8);
  other_key.set_idempotency_key("run-2");
  *other_key.mutable_fence() = CurrentFence();
  other_key.mutable_fence()->set_holder_id("replica-2");
  EXPECT_EQ(WritePart(other_key).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count("snapshots"), 1);
  EXPECT_EQ(Count("snapshot_parts"), 1);

  v1::WriteSnapshotRequest commit = CommitOf(whole, 1, 4);
  *commit.mutable_fence() = CurrentFence();
  EXPECT_EQ(WriteSnap(commit, kNow + absl::Seconds(30)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count("latest_balances"), 0);
  ASSERT_TRUE(WriteSnap(commit).ok());
}

TEST_F(SnapshotPartsTest, MalformedPartsAreRefused) {
  AddIds(Registered());
  const v1::WriteSnapshotRequest whole = Whole();
  struct Case {
    std::string name;
    void (*mutate)(v1::WriteSnapshotPartRequest*);
    absl::StatusCode code;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"no key", [](v1::WriteSnapshotPartRequest* r) { r->clear_idempotency_key(); },
       absl::StatusCode::kInvalidArgument, "idempotency_key: required"},
      {"key not printable", [](v1::WriteSnapshotPartRequest* r) { r->set_idempotency_key("a\nb"); },
       absl::StatusCode::kInvalidArgument, "idempotency_key: not printable ASCII"},
      {"part 10000", [](v1::WriteSnapshotPartRequest* r) { r->set_part(10000); },
       absl::StatusCode::kInvalidArgument, "part: 10000, at most 9999"},
      {"no taken_at", [](v1::WriteSnapshotPartRequest* r) { r->clear_taken_at(); },
       absl::StatusCode::kInvalidArgument, "taken_at: required"},
      {"bad taken_at",
       [](v1::WriteSnapshotPartRequest* r) { r->mutable_taken_at()->set_nanos(-1); },
       absl::StatusCode::kInvalidArgument, "taken_at: "},
      {"no items", [](v1::WriteSnapshotPartRequest* r) { r->clear_items(); },
       absl::StatusCode::kInvalidArgument, "items: at least 1 required"},
      {"bad item",
       [](v1::WriteSnapshotPartRequest* r) {
         r->mutable_items(1)->set_asset_id("eip155:1/nope:1");
       },
       absl::StatusCode::kInvalidArgument, "items[1].asset_id: "},
      {"duplicate", [](v1::WriteSnapshotPartRequest* r) { *r->add_items() = r->items(0); },
       absl::StatusCode::kInvalidArgument, "items[2]: account "},
      {"too many",
       [](v1::WriteSnapshotPartRequest* r) {
         for (size_t i = 0; i < kMaxSnapshotItems; ++i) r->add_items();
       },
       absl::StatusCode::kResourceExhausted, "items: 100002 items, at most 100000"},
  };
  for (const Case& c : cases) {
    v1::WriteSnapshotPartRequest request = PartOf(whole, 0, 0, 2);
    c.mutate(&request);
    const absl::Status status = WritePart(request);
    EXPECT_EQ(status.code(), c.code) << c.name << ": " << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), c.expected)) << c.name << ": " << status;
  }
  EXPECT_EQ(Count("snapshots"), 0);
  EXPECT_EQ(Count("snapshot_items"), 0);
  // The most parts a commit may name.
  v1::WriteSnapshotRequest commit = CommitOf(whole, 10001, 0);
  const absl::Status status = WriteSnap(commit);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), "parts: 10001, at most 10000");
}

TEST_F(SnapshotPartsTest, ItemLimitIsOnTheWholeSnapshot) {
  AddIds(Registered());
  const v1::WriteSnapshotRequest whole = Whole();
  ASSERT_TRUE(WritePart(PartOf(whole, 0, 0, 4)).ok());
  // As if part 0 had carried all but 2 of the most a snapshot holds (3
  // stored, 1 skipped): writing that many items is what this spares.
  ASSERT_TRUE(Write([](db::WriteContext& tx) {
                return tx.Execute(absl::StrCat("UPDATE snapshot_parts SET items = ",
                                               static_cast<int64_t>(kMaxSnapshotItems) - 3,
                                               ", skipped_items = 1"));
              }).ok());
  absl::Status status = WritePart(PartOf(whole, 1, 4, 7));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "100001 items, at most 100000")) << status;
  ASSERT_TRUE(WritePart(PartOf(whole, 1, 4, 6)).ok());
  status = WriteSnap(CommitOf(whole, 2, 15));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "100001 items")) << status;
  EXPECT_EQ(Count("latest_balances"), 0);
  status = WriteSnap(CommitOf(whole, 2, 16));
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace coffer::storage
