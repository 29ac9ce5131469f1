#include "services/scheduler/runs/refresh_balances_run.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "common/metrics/metric_snapshot.h"
#include "common/metrics/registry.h"
#include "tests/services/scheduler/runs/unexpected_backends.h"

namespace coffer::scheduler {
namespace {

constexpr char kEth[] = "eip155:1/slip44:60";
constexpr char kUsdc[] = "eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";

std::string Account(int i) { return absl::StrCat("eip155:1:0x", 1000000 + i); }

// How many runs of this process recorded `stage` so far.
// What a run is cancelled with (CancelRun, a timeout).
v1::Error CancelReason(const std::string& message) {
  v1::Error reason;
  reason.set_code(v1::Error::CANCELLED);
  reason.set_message(message);
  return reason;
}

uint64_t StageCount(const std::string& stage) {
  for (const metrics::MetricSnapshot& metric :
       metrics::Registry::Global().Snapshot("coffer_scheduler_run_stage_seconds")) {
    const metrics::Labels want = {{"kind", "refresh_balances"}, {"stage", stage}};
    if (metric.labels == want) return metric.histogram.count;
  }
  return 0;
}

// How often each (account, asset) was written, in parts and commits.
std::map<std::pair<std::string, std::string>, int> WrittenItems(
    const std::vector<v1::WriteSnapshotPartRequest>& parts,
    const std::vector<v1::WriteSnapshotRequest>& commits) {
  std::map<std::pair<std::string, std::string>, int> written;
  for (const v1::WriteSnapshotPartRequest& part : parts) {
    for (const v1::BalanceItem& item : part.items())
      ++written[{item.account_id(), item.asset_id()}];
  }
  for (const v1::WriteSnapshotRequest& commit : commits) {
    for (const v1::BalanceItem& item : commit.items())
      ++written[{item.account_id(), item.asset_id()}];
  }
  return written;
}

// Success when each of the first `accounts` accounts' ether and USDC was
// written exactly once, and nothing else.
::testing::AssertionResult EachItemOnce(
    const std::map<std::pair<std::string, std::string>, int>& written, int accounts) {
  if (written.size() != 2u * accounts) {
    return ::testing::AssertionFailure() << written.size() << " distinct items written";
  }
  for (int i = 0; i < accounts; ++i) {
    for (const char* asset : {kEth, kUsdc}) {
      auto it = written.find({Account(i), asset});
      if (it == written.end() || it->second != 1) {
        return ::testing::AssertionFailure() << Account(i) << " " << asset << " written "
                                             << (it == written.end() ? 0 : it->second) << " times";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// Storage with `accounts` registered, answering at once (or, with
// `hold_pages` / `hold_parts`, when the test says); records the writes.
class FakeStorage : public UnexpectedRunStorage {
 public:
  void ListAccounts(const v1::ListAccountsRequest& request,
                    Answer<v1::ListAccountsResponse> done) override {
    list_requests.push_back(request);
    if (hold_pages) {
      held_pages.push_back({request, std::move(done)});
      return;
    }
    AnswerPage(request, std::move(done));
  }
  void WriteSnapshot(const v1::WriteSnapshotRequest& request,
                     Answer<v1::WriteSnapshotResponse> done) override {
    written.push_back(request);
    if (!write_status.ok()) return std::move(done)(write_status);
    v1::WriteSnapshotResponse reply;
    reply.mutable_snapshot()->set_snapshot_id("42");
    std::move(done)(reply);
  }
  void WriteSnapshotPart(const v1::WriteSnapshotPartRequest& request,
                         Answer<v1::WriteSnapshotPartResponse> done) override {
    // Atomic: the threaded test sends parts from several threads.
    if (parts_in_flight.fetch_add(1) > 0) two_parts_in_flight = true;
    parts.push_back(request);
    if (hold_parts) {
      held_parts.push_back({request.items_size(), std::move(done)});
      return;
    }
    AnswerPart(request.items_size(), part_status, std::move(done));
  }

  // Answers the oldest held part with `status`.
  void AnswerHeldPart(const absl::Status& status = absl::OkStatus()) {
    ASSERT_FALSE(held_parts.empty());
    HeldPart part = std::move(held_parts.front());
    held_parts.pop_front();
    AnswerPart(part.items, status, std::move(part.done));
  }

  // Answers the held page request (at most one is out at a time).
  void AnswerHeldPage() {
    ASSERT_EQ(held_pages.size(), 1u);
    HeldPage page = std::move(held_pages.front());
    held_pages.pop_front();
    AnswerPage(page.request, std::move(page.done));
  }

  struct HeldPage {
    v1::ListAccountsRequest request;
    Answer<v1::ListAccountsResponse> done;
  };
  struct HeldPart {
    int items;
    Answer<v1::WriteSnapshotPartResponse> done;
  };
  std::vector<std::string> accounts;
  // Accounts' own asset lists (Account.asset_ids); the others have none.
  std::map<std::string, std::vector<std::string>> asset_ids;
  absl::Status list_status;
  absl::Status write_status;
  bool hold_pages = false;
  std::deque<HeldPage> held_pages;
  std::vector<v1::ListAccountsRequest> list_requests;
  std::vector<v1::WriteSnapshotRequest> written;
  absl::Status part_status;
  bool hold_parts = false;
  std::deque<HeldPart> held_parts;
  std::vector<v1::WriteSnapshotPartRequest> parts;
  std::atomic<int> parts_in_flight{0};
  std::atomic<bool> two_parts_in_flight{false};

 private:
  void AnswerPart(int items, const absl::Status& status,
                  Answer<v1::WriteSnapshotPartResponse> done) {
    --parts_in_flight;  // before the answer, which may send the next part
    if (!status.ok()) return std::move(done)(status);
    v1::WriteSnapshotPartResponse reply;
    reply.set_items(items);
    std::move(done)(reply);
  }

  void AnswerPage(const v1::ListAccountsRequest& request, Answer<v1::ListAccountsResponse> done) {
    if (!list_status.ok()) return std::move(done)(list_status);
    size_t first = 0;
    if (!request.page().page_token().empty()) {
      EXPECT_TRUE(absl::SimpleAtoi(request.page().page_token(), &first));
    }
    v1::ListAccountsResponse reply;
    const size_t end = std::min(accounts.size(), first + request.page().page_size());
    for (size_t i = first; i < end; ++i) {
      v1::Account* account = reply.add_accounts();
      account->set_account_id(accounts[i]);
      if (auto it = asset_ids.find(accounts[i]); it != asset_ids.end()) {
        for (const std::string& asset : it->second) account->add_asset_ids(asset);
      }
    }
    if (end < accounts.size()) reply.mutable_page()->set_next_page_token(absl::StrCat(end));
    std::move(done)(reply);
  }
};

// A fetcher whose balance calls wait until the test answers them.
class FakeFetcher : public UnexpectedRunFetcher {
 public:
  CancelCall ResolveBlocks(const v1::ResolveBlocksRequest& request,
                           Answer<v1::ResolveBlocksResponse> done) override {
    resolve_requests.push_back(request);
    if (hold_resolve) {
      held_resolves.push_back({request, std::move(done)});
      return {};
    }
    std::move(done)(resolve(request));
    return {};
  }
  CancelCall QueryBalances(const v1::QueryBalancesRequest& request,
                           Answer<v1::QueryBalancesResponse> done) override {
    pending.push_back({request, std::move(done)});
    ++calls;
    max_in_flight = std::max(max_in_flight, pending.size());
    return {};
  }

  // Answers the oldest pending call with `answer(request)`.
  void AnswerOne() {
    ASSERT_FALSE(pending.empty());
    Call call = std::move(pending.front());
    pending.pop_front();
    std::move(call.done)(answer(call.request));
  }
  // Answers the newest pending call: batches answering out of order.
  void AnswerNewest() {
    ASSERT_FALSE(pending.empty());
    Call call = std::move(pending.back());
    pending.pop_back();
    std::move(call.done)(answer(call.request));
  }
  void AnswerAll() {
    while (!pending.empty()) AnswerOne();
  }
  void AnswerHeldResolve() {
    ASSERT_FALSE(held_resolves.empty());
    HeldResolve held = std::move(held_resolves.front());
    held_resolves.pop_front();
    std::move(held.done)(resolve(held.request));
  }

  struct Call {
    v1::QueryBalancesRequest request;
    Answer<v1::QueryBalancesResponse> done;
  };
  struct HeldResolve {
    v1::ResolveBlocksRequest request;
    Answer<v1::ResolveBlocksResponse> done;
  };
  std::function<absl::StatusOr<v1::ResolveBlocksResponse>(const v1::ResolveBlocksRequest&)>
      resolve = [](const v1::ResolveBlocksRequest& request) {
        v1::ResolveBlocksResponse reply;
        v1::BlockResult* result = reply.add_results();
        result->set_chain_id("eip155:1");
        result->mutable_block()->set_chain_id("eip155:1");
        result->mutable_block()->set_number(request.blocks_size() > 0 ? 90 : 100);
        result->mutable_block()->set_hash("0xabc");
        return reply;
      };
  // Default: ether 1 and USDC 2 for every account.
  std::function<absl::StatusOr<v1::QueryBalancesResponse>(const v1::QueryBalancesRequest&)> answer =
      [](const v1::QueryBalancesRequest& request) {
        v1::QueryBalancesResponse reply;
        for (int q = 0; q < request.queries_size(); ++q) {
          for (const char* asset : {kEth, kUsdc}) {
            v1::BalanceResult* result = reply.add_results();
            result->set_query_index(q);
            v1::BalanceItem* item = result->mutable_balance();
            item->set_account_id(request.queries(q).account_id());
            item->set_asset_id(asset);
            item->mutable_amount()->set_units(asset == kEth ? "1" : "2");
          }
        }
        return reply;
      };
  std::vector<v1::ResolveBlocksRequest> resolve_requests;
  bool hold_resolve = false;
  std::deque<HeldResolve> held_resolves;
  std::deque<Call> pending;
  size_t calls = 0;
  size_t max_in_flight = 0;
};

class RefreshBalancesRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 1203; ++i) storage_.accounts.push_back(Account(i));
    options_.run_id = "run-1";
    options_.fence.set_lease_name("scheduler");
    options_.fence.set_holder_id("replica-a");
    options_.fence.set_epoch(7);
    options_.params.set_batch_size(500);
    options_.params.set_max_batches_in_flight(2);
    options_.taken_at = absl::FromUnixSeconds(1700000000);
    // Most tests here look at the snapshot as one WriteSnapshot of every
    // item, which is how a run without parts writes: they never reach the
    // threshold. The parts tests set their own.
    options_.snapshot_part_items = kMaxSnapshotItems + 1;
  }

  std::shared_ptr<RefreshBalancesRun> Start() {
    return RefreshBalancesRun::Start(
        &storage_, &fetcher_, options_,
        [this](const v1::Progress& progress) { progress_.push_back(progress); },
        [this](RunOutcome outcome) {
          EXPECT_FALSE(outcome_.has_value()) << "done twice";
          outcome_ = std::move(outcome);
        });
  }

  FakeStorage storage_;
  FakeFetcher fetcher_;
  RefreshBalancesRunOptions options_;
  std::vector<v1::Progress> progress_;
  std::optional<RunOutcome> outcome_;
};

TEST_F(RefreshBalancesRunTest, ReadsEveryAccountAtOnePinnedBlockAndWritesOneSnapshot) {
  auto run = Start();
  // Three pages of accounts, then two batches in flight, never more.
  EXPECT_EQ(storage_.list_requests.size(), 2u);
  // The run reads only ids and asset lists: storage builds no more.
  for (const v1::ListAccountsRequest& request : storage_.list_requests) {
    EXPECT_EQ(request.view(), v1::ACCOUNT_VIEW_IDS);
  }
  EXPECT_EQ(fetcher_.pending.size(), 2u);
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(fetcher_.calls, 3u);
  EXPECT_EQ(fetcher_.max_in_flight, 2u);

  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome_->snapshot_id, "42");
  EXPECT_EQ(outcome_->counts.accounts(), 1203u);
  EXPECT_EQ(outcome_->counts.batches(), 3u);
  EXPECT_EQ(outcome_->counts.items_total(), 2406u);
  EXPECT_EQ(outcome_->counts.items_succeeded(), 2406u);
  EXPECT_EQ(outcome_->counts.items_failed(), 0u);
  EXPECT_TRUE(outcome_->error_summary.empty());

  ASSERT_EQ(storage_.written.size(), 1u);
  const v1::WriteSnapshotRequest& snapshot = storage_.written[0];
  EXPECT_EQ(snapshot.idempotency_key(), "run-1");
  EXPECT_EQ(snapshot.run_id(), "run-1");
  EXPECT_EQ(snapshot.fence().epoch(), 7u);
  EXPECT_EQ(snapshot.fence().holder_id(), "replica-a");
  EXPECT_EQ(snapshot.taken_at().seconds(), 1700000000);
  ASSERT_EQ(snapshot.blocks_size(), 1);
  EXPECT_EQ(snapshot.blocks(0).number(), 100u);
  EXPECT_EQ(snapshot.items_size(), 2406);
  EXPECT_FALSE(fetcher_.resolve_requests[0].bypass_cache());
}

TEST_F(RefreshBalancesRunTest, AnAccountsOwnAssetListIsWhatItsQueryAsksFor) {
  const std::string& tracked = storage_.accounts[1];
  storage_.asset_ids[tracked] = {"eip155:1/erc20:0x00000000000000000000000000000000000000aa",
                                 "eip155:1/slip44:60"};
  auto run = Start();
  ASSERT_FALSE(fetcher_.pending.empty());
  const v1::QueryBalancesRequest& first_batch = fetcher_.pending[0].request;
  ASSERT_GT(first_batch.queries_size(), 2);
  EXPECT_EQ(first_batch.queries(0).account_id(), storage_.accounts[0]);
  EXPECT_EQ(first_batch.queries(0).asset_ids_size(), 0);  // the fetcher's assets
  EXPECT_EQ(first_batch.queries(1).account_id(), tracked);
  EXPECT_EQ(std::vector<std::string>(first_batch.queries(1).asset_ids().begin(),
                                     first_batch.queries(1).asset_ids().end()),
            storage_.asset_ids[tracked]);
  EXPECT_EQ(first_batch.queries(2).asset_ids_size(), 0);
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
}

TEST_F(RefreshBalancesRunTest, NoAccountsWritesAnEmptySnapshot) {
  storage_.accounts.clear();
  auto run = Start();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome_->counts.items_total(), 0u);
  EXPECT_EQ(fetcher_.calls, 0u);
  // One snapshot per run, even an empty one: the run's blocks are recorded.
  ASSERT_EQ(storage_.written.size(), 1u);
  EXPECT_EQ(storage_.written[0].items_size(), 0);
  EXPECT_EQ(storage_.written[0].blocks_size(), 1);
}

TEST_F(RefreshBalancesRunTest, EveryBatchReadsAtTheResolvedBlock) {
  std::vector<v1::QueryBalancesRequest> seen;
  auto answer = fetcher_.answer;
  fetcher_.answer = [&](const v1::QueryBalancesRequest& request) {
    seen.push_back(request);
    return answer(request);
  };
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_EQ(seen.size(), 3u);
  size_t accounts = 0;
  for (const v1::QueryBalancesRequest& request : seen) {
    ASSERT_EQ(request.blocks_size(), 1);
    EXPECT_EQ(request.blocks(0).chain_id(), "eip155:1");
    EXPECT_EQ(request.blocks(0).number(), 100u);
    EXPECT_LE(request.queries_size(), 500);
    for (const v1::BalanceQuery& query : request.queries()) {
      EXPECT_EQ(query.asset_ids_size(), 0);  // every configured asset
      ++accounts;
    }
  }
  EXPECT_EQ(accounts, 1203u);
}

TEST_F(RefreshBalancesRunTest, FailedItemsAreWrittenAsFailedAndSummarized) {
  fetcher_.answer = [](const v1::QueryBalancesRequest& request) {
    v1::QueryBalancesResponse reply;
    for (int q = 0; q < request.queries_size(); ++q) {
      v1::BalanceItem* eth = reply.add_results()->mutable_balance();
      eth->set_account_id(request.queries(q).account_id());
      eth->set_asset_id(kEth);
      eth->mutable_amount()->set_units("1");
      v1::BalanceItem* usdc = reply.add_results()->mutable_balance();
      usdc->set_account_id(request.queries(q).account_id());
      usdc->set_asset_id(kUsdc);
      usdc->mutable_error()->set_code(v1::Error::UNAVAILABLE);
      usdc->mutable_error()->set_upstream("rpc-a");
      usdc->mutable_error()->set_message("connection refused");
    }
    return reply;
  };
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_PARTIAL);
  EXPECT_EQ(outcome_->counts.items_succeeded(), 1203u);
  EXPECT_EQ(outcome_->counts.items_failed(), 1203u);
  ASSERT_EQ(outcome_->error_summary.size(), 1u);
  EXPECT_EQ(outcome_->error_summary[0].code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(outcome_->error_summary[0].upstream(), "rpc-a");
  EXPECT_EQ(outcome_->error_summary[0].chain_id(), "eip155:1");
  EXPECT_EQ(outcome_->error_summary[0].count(), 1203u);
  EXPECT_EQ(outcome_->error_summary[0].sample_message(), "connection refused");
  // The failed readings are in the snapshot, as failed: never as zero.
  ASSERT_EQ(storage_.written.size(), 1u);
  int failed = 0;
  for (const v1::BalanceItem& item : storage_.written[0].items()) {
    if (item.has_error()) {
      ++failed;
      EXPECT_FALSE(item.has_amount());
    }
  }
  EXPECT_EQ(failed, 1203);
}

TEST_F(RefreshBalancesRunTest, AFailedBatchFailsItsAccountsOnly) {
  auto run = Start();
  FakeFetcher::Call first = std::move(fetcher_.pending.front());
  fetcher_.pending.pop_front();
  std::move(first.done)(absl::UnavailableError("fetcher went away"));
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_PARTIAL);
  EXPECT_EQ(outcome_->counts.items_failed(), 500u);         // one per account
  EXPECT_EQ(outcome_->counts.items_succeeded(), 2 * 703u);  // the other batches
  ASSERT_EQ(storage_.written.size(), 1u);
  EXPECT_EQ(storage_.written[0].items_size(), 2 * 703);
  ASSERT_EQ(outcome_->error_summary.size(), 1u);
  EXPECT_EQ(outcome_->error_summary[0].upstream(), "fetcher");
}

TEST_F(RefreshBalancesRunTest, EveryItemFailedIsAFailedRunThatStillRecordsTheErrors) {
  fetcher_.answer =
      [](const v1::QueryBalancesRequest&) -> absl::StatusOr<v1::QueryBalancesResponse> {
    return absl::DeadlineExceededError("slow");
  };
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->counts.items_failed(), 1203u);
  EXPECT_EQ(outcome_->error_summary[0].code(), v1::Error::DEADLINE_EXCEEDED);
}

TEST_F(RefreshBalancesRunTest, AnAccountWithoutAssetsIsCountedNotWritten) {
  storage_.accounts = {Account(1), "eip155:999:0x1"};
  fetcher_.answer = [](const v1::QueryBalancesRequest& request) {
    v1::QueryBalancesResponse reply;
    v1::BalanceItem* good = reply.add_results()->mutable_balance();
    good->set_account_id(request.queries(0).account_id());
    good->set_asset_id(kEth);
    good->mutable_amount()->set_units("5");
    v1::BalanceItem* unknown = reply.add_results()->mutable_balance();
    unknown->set_account_id(request.queries(1).account_id());
    unknown->mutable_error()->set_code(v1::Error::NOT_FOUND);
    unknown->mutable_error()->set_message("chain eip155:999 is not configured");
    return reply;
  };
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_PARTIAL);
  ASSERT_EQ(storage_.written.size(), 1u);
  ASSERT_EQ(storage_.written[0].items_size(), 1);
  EXPECT_EQ(outcome_->error_summary[0].chain_id(), "eip155:999");
}

TEST_F(RefreshBalancesRunTest, StorageFailuresFailTheRunNamingStorage) {
  storage_.list_status = absl::UnavailableError("storage down");
  auto run = Start();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->error.code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(outcome_->error.upstream(), "storage");
  EXPECT_EQ(fetcher_.calls, 0u);
  EXPECT_TRUE(storage_.written.empty());

  outcome_.reset();
  storage_.list_status = absl::OkStatus();
  storage_.write_status = absl::FailedPreconditionError("lease epoch 7 is older than 8");
  auto second = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->error.code(), v1::Error::FAILED_PRECONDITION);
  EXPECT_EQ(outcome_->error.upstream(), "storage");
}

TEST_F(RefreshBalancesRunTest, NoResolvableChainFailsBeforeReading) {
  fetcher_.resolve = [](const v1::ResolveBlocksRequest&) {
    v1::ResolveBlocksResponse reply;
    v1::BlockResult* result = reply.add_results();
    result->set_chain_id("eip155:1");
    result->mutable_error()->set_code(v1::Error::UNAVAILABLE);
    result->mutable_error()->set_message("all endpoints down");
    return reply;
  };
  auto run = Start();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_NE(outcome_->error.message().find("all endpoints down"), std::string::npos);
  EXPECT_EQ(fetcher_.calls, 0u);  // no balance read
  EXPECT_TRUE(storage_.written.empty());
}

TEST_F(RefreshBalancesRunTest, ABlockTagIsResolvedForEveryConfiguredChain) {
  options_.params.set_block_tag(v1::BLOCK_TAG_FINALIZED);
  auto run = Start();
  ASSERT_EQ(fetcher_.resolve_requests.size(), 2u);
  ASSERT_EQ(fetcher_.resolve_requests[1].blocks_size(), 1);
  EXPECT_EQ(fetcher_.resolve_requests[1].blocks(0).chain_id(), "eip155:1");
  EXPECT_EQ(fetcher_.resolve_requests[1].blocks(0).tag(), v1::BLOCK_TAG_FINALIZED);
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(storage_.written[0].blocks(0).number(), 90u);
}

TEST_F(RefreshBalancesRunTest, AForcedRunBypassesCaches) {
  options_.forced = true;
  std::vector<bool> bypassed;
  auto answer = fetcher_.answer;
  fetcher_.answer = [&](const v1::QueryBalancesRequest& request) {
    bypassed.push_back(request.bypass_cache());
    return answer(request);
  };
  auto run = Start();
  fetcher_.AnswerAll();
  EXPECT_TRUE(fetcher_.resolve_requests[0].bypass_cache());
  EXPECT_EQ(bypassed, (std::vector<bool>{true, true, true}));
}

TEST_F(RefreshBalancesRunTest, CancelStopsNewCallsAndWritesNothing) {
  auto run = Start();
  ASSERT_EQ(fetcher_.pending.size(), 2u);
  run->Cancel(CancelReason("cancelled by alice"));
  EXPECT_FALSE(outcome_.has_value());  // two calls still out
  fetcher_.AnswerOne();
  EXPECT_TRUE(fetcher_.pending.size() == 1u);  // no third batch started
  fetcher_.AnswerOne();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome_->error.message(), "cancelled by alice");
  EXPECT_EQ(fetcher_.calls, 2u);
  EXPECT_TRUE(storage_.written.empty());
  run->Cancel(CancelReason("cancelled by alice"));  // after the end: nothing
}

TEST_F(RefreshBalancesRunTest, ProgressCountsAccountsAgainstTheTotal) {
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_FALSE(progress_.empty());
  EXPECT_EQ(progress_.front().stage(), "resolving blocks");
  bool fetching_seen = false;
  for (const v1::Progress& progress : progress_) {
    if (progress.stage() != "fetching") continue;
    fetching_seen = true;
    EXPECT_EQ(progress.total(), 1203u);
    EXPECT_EQ(progress.unit(), "accounts");
  }
  EXPECT_TRUE(fetching_seen);
  EXPECT_EQ(progress_.back().stage(), "writing snapshot");
  EXPECT_EQ(progress_.back().done(), 1203u);
}

TEST_F(RefreshBalancesRunTest, BatchesGoOutWhileLaterPagesAreStillListed) {
  storage_.hold_pages = true;
  options_.params.set_batch_size(300);
  options_.params.set_max_batches_in_flight(4);
  std::vector<v1::QueryBalancesRequest> sent;
  auto answer = fetcher_.answer;
  fetcher_.answer = [&](const v1::QueryBalancesRequest& request) {
    sent.push_back(request);
    return answer(request);
  };
  auto run = Start();
  ASSERT_EQ(storage_.list_requests.size(), 1u);
  EXPECT_TRUE(fetcher_.pending.empty());

  // The first page (1,000 accounts): its three full batches go out at once
  // and the second page is asked for; the last 100 wait for a full batch
  // or the end of the listing.
  storage_.AnswerHeldPage();
  ASSERT_EQ(storage_.list_requests.size(), 2u);
  EXPECT_EQ(storage_.list_requests[1].page().page_token(), "1000");
  ASSERT_EQ(fetcher_.pending.size(), 3u);
  for (const FakeFetcher::Call& call : fetcher_.pending) {
    EXPECT_EQ(call.request.queries_size(), 300);
    ASSERT_EQ(call.request.blocks_size(), 1);
    EXPECT_EQ(call.request.blocks(0).number(), 100u);
  }
  EXPECT_EQ(fetcher_.pending[0].request.queries(0).account_id(), Account(0));
  // A batch answering while the listing goes on sends nothing: 100 accounts
  // are not a batch until the listing ended.
  fetcher_.AnswerOne();
  EXPECT_EQ(fetcher_.pending.size(), 2u);
  EXPECT_FALSE(outcome_.has_value());
  // The total is not known yet.
  ASSERT_FALSE(progress_.empty());
  EXPECT_EQ(progress_.back().stage(), "listing accounts");
  EXPECT_EQ(progress_.back().total(), 0u);
  EXPECT_EQ(progress_.back().done(), 300u);

  // The last page (203): a full batch and the last, partial one.
  storage_.AnswerHeldPage();
  EXPECT_EQ(storage_.list_requests.size(), 2u);
  EXPECT_EQ(fetcher_.pending.size(), 4u);
  EXPECT_EQ(progress_.back().stage(), "fetching");
  EXPECT_EQ(progress_.back().total(), 1203u);
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome_->counts.batches(), 5u);
  std::vector<int> sizes;
  for (const v1::QueryBalancesRequest& request : sent) sizes.push_back(request.queries_size());
  EXPECT_EQ(sizes, (std::vector<int>{300, 300, 300, 300, 3}));
  ASSERT_EQ(storage_.written.size(), 1u);
  EXPECT_EQ(storage_.written[0].items_size(), 2406);
}

TEST_F(RefreshBalancesRunTest, AccountsAreListedWhileBlocksArePinnedButNotReadBefore) {
  fetcher_.hold_resolve = true;
  auto run = Start();
  // The listing went on meanwhile; no batch went out.
  EXPECT_EQ(storage_.list_requests.size(), 2u);
  EXPECT_TRUE(fetcher_.pending.empty());
  EXPECT_EQ(fetcher_.calls, 0u);
  fetcher_.AnswerHeldResolve();
  ASSERT_EQ(fetcher_.pending.size(), 2u);
  EXPECT_EQ(fetcher_.pending[0].request.blocks(0).number(), 100u);
}

TEST_F(RefreshBalancesRunTest, AListingErrorWithBatchesOutFailsTheRunOnceTheyAnswered) {
  storage_.hold_pages = true;
  options_.params.set_batch_size(200);
  const uint64_t listed_before = StageCount("list_accounts");
  const uint64_t fetched_before = StageCount("fetch");
  const uint64_t collected_before = StageCount("collect");
  auto run = Start();
  storage_.AnswerHeldPage();
  ASSERT_EQ(fetcher_.pending.size(), 2u);
  storage_.list_status = absl::UnavailableError("storage went away");
  storage_.AnswerHeldPage();
  // Failed, but two batches are out: no new call, and no end until they
  // answered (`done` never runs with a call still out).
  EXPECT_FALSE(outcome_.has_value());
  fetcher_.AnswerOne();
  EXPECT_EQ(fetcher_.pending.size(), 1u);  // no third batch
  EXPECT_FALSE(outcome_.has_value());
  // A cancel now does not turn the failure into a cancel.
  run->Cancel(CancelReason("cancelled by alice"));
  fetcher_.AnswerOne();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->error.code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(outcome_->error.upstream(), "storage");
  EXPECT_NE(outcome_->error.message().find("listing accounts"), std::string::npos);
  EXPECT_EQ(outcome_->counts.accounts(), 1000u);
  EXPECT_EQ(outcome_->counts.batches(), 2u);
  EXPECT_EQ(fetcher_.calls, 2u);
  EXPECT_EQ(storage_.list_requests.size(), 2u);
  EXPECT_TRUE(storage_.written.empty());
  // Neither stage ended.
  EXPECT_EQ(StageCount("list_accounts"), listed_before);
  EXPECT_EQ(StageCount("fetch"), fetched_before);
  EXPECT_EQ(StageCount("collect"), collected_before);
}

TEST_F(RefreshBalancesRunTest, CancelWhileListingAndFetchingEndsWhenBothAnswered) {
  storage_.hold_pages = true;
  auto run = Start();
  storage_.AnswerHeldPage();
  ASSERT_EQ(fetcher_.pending.size(), 2u);
  ASSERT_EQ(storage_.held_pages.size(), 1u);
  run->Cancel(CancelReason("run timed out"));
  fetcher_.AnswerOne();
  EXPECT_EQ(fetcher_.pending.size(), 1u);
  storage_.AnswerHeldPage();
  EXPECT_EQ(storage_.list_requests.size(), 2u);  // no next page
  EXPECT_EQ(fetcher_.pending.size(), 1u);        // no new batch
  EXPECT_FALSE(outcome_.has_value());
  fetcher_.AnswerOne();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome_->error.message(), "run timed out");
  EXPECT_EQ(fetcher_.calls, 2u);
  EXPECT_TRUE(storage_.written.empty());
}

TEST_F(RefreshBalancesRunTest, SnapshotItemsFollowTheListingWhateverOrderBatchesAnswer) {
  options_.params.set_batch_size(300);
  options_.params.set_max_batches_in_flight(4);
  const uint64_t listed_before = StageCount("list_accounts");
  const uint64_t fetched_before = StageCount("fetch");
  const uint64_t collected_before = StageCount("collect");
  const uint64_t written_before = StageCount("write");
  auto run = Start();
  ASSERT_EQ(fetcher_.pending.size(), 4u);
  while (!fetcher_.pending.empty()) fetcher_.AnswerNewest();
  ASSERT_TRUE(outcome_.has_value());
  ASSERT_EQ(storage_.written.size(), 1u);
  const v1::WriteSnapshotRequest& snapshot = storage_.written[0];
  ASSERT_EQ(snapshot.items_size(), 2 * 1203);
  for (int i = 0; i < 1203; ++i) {
    ASSERT_EQ(snapshot.items(2 * i).account_id(), Account(i)) << i;
    EXPECT_EQ(snapshot.items(2 * i).asset_id(), kEth);
    EXPECT_EQ(snapshot.items(2 * i + 1).account_id(), Account(i));
    EXPECT_EQ(snapshot.items(2 * i + 1).asset_id(), kUsdc);
  }
  // Each stage once per run, overlapping or not.
  EXPECT_EQ(StageCount("list_accounts"), listed_before + 1);
  EXPECT_EQ(StageCount("fetch"), fetched_before + 1);
  EXPECT_EQ(StageCount("collect"), collected_before + 1);
  EXPECT_EQ(StageCount("write"), written_before + 1);
}

// Answers every page and batch on a thread of its own, as gRPC's pollers
// do: pages and batches come back concurrently (for the sanitizers).
class ThreadedBackends : public UnexpectedRunStorage, public UnexpectedRunFetcher {
 public:
  ThreadedBackends(FakeStorage* storage, FakeFetcher* fetcher)
      : storage_(storage), fetcher_(fetcher) {}
  ~ThreadedBackends() override { JoinAll(); }

  void ListAccounts(const v1::ListAccountsRequest& request,
                    Answer<v1::ListAccountsResponse> done) override {
    Spawn([this, request, done = std::move(done)]() mutable {
      storage_->ListAccounts(request, std::move(done));
    });
  }
  void WriteSnapshot(const v1::WriteSnapshotRequest& request,
                     Answer<v1::WriteSnapshotResponse> done) override {
    Spawn([this, request, done = std::move(done)]() mutable {
      storage_->WriteSnapshot(request, std::move(done));
    });
  }
  void WriteSnapshotPart(const v1::WriteSnapshotPartRequest& request,
                         Answer<v1::WriteSnapshotPartResponse> done) override {
    // In flight from the run's call to its answer.
    if (parts_out_.fetch_add(1) > 0) two_parts_out = true;
    Spawn([this, request, done = std::move(done)]() mutable {
      storage_->WriteSnapshotPart(request,
                                  [this, done = std::move(done)](
                                      absl::StatusOr<v1::WriteSnapshotPartResponse> reply) mutable {
                                    --parts_out_;
                                    std::move(done)(std::move(reply));
                                  });
    });
  }
  CancelCall ResolveBlocks(const v1::ResolveBlocksRequest& request,
                           Answer<v1::ResolveBlocksResponse> done) override {
    Spawn([this, request, done = std::move(done)]() mutable {
      std::move(done)(fetcher_->resolve(request));
    });
    return {};
  }
  CancelCall QueryBalances(const v1::QueryBalancesRequest& request,
                           Answer<v1::QueryBalancesResponse> done) override {
    Spawn([this, request, done = std::move(done)]() mutable {
      std::move(done)(fetcher_->answer(request));
    });
    return {};
  }

  std::atomic<bool> two_parts_out{false};

  // Joins every thread, including those started while joining.
  void JoinAll() {
    while (true) {
      std::vector<std::thread> threads;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        threads.swap(threads_);
      }
      if (threads.empty()) return;
      for (std::thread& thread : threads) thread.join();
    }
  }

 private:
  void Spawn(absl::AnyInvocable<void()> answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    threads_.emplace_back([answer = std::move(answer)]() mutable { answer(); });
  }

  FakeStorage* const storage_;  // used from the answering threads only
  FakeFetcher* const fetcher_;  // its `resolve` and `answer` only
  std::atomic<int> parts_out_{0};
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

// Runs a refresh over `backends` to its end, every answer on another
// thread, and joins them.
std::optional<RunOutcome> RunOnThreads(ThreadedBackends& backends,
                                       const RefreshBalancesRunOptions& options) {
  std::mutex mutex;
  std::condition_variable ended;
  std::optional<RunOutcome> outcome;
  auto run = RefreshBalancesRun::Start(
      &backends, &backends, options, [](const v1::Progress&) {},
      [&](RunOutcome result) {
        std::lock_guard<std::mutex> lock(mutex);
        outcome = std::move(result);
        ended.notify_all();
      });
  {
    std::unique_lock<std::mutex> lock(mutex);
    ended.wait(lock, [&] { return outcome.has_value(); });
  }
  backends.JoinAll();
  return outcome;
}

TEST_F(RefreshBalancesRunTest, PagesAndBatchesAnsweringOnOtherThreadsWriteEveryItemInOrder) {
  for (int i = 1203; i < 5000; ++i) storage_.accounts.push_back(Account(i));
  options_.params.set_batch_size(300);
  options_.params.set_max_batches_in_flight(4);
  ThreadedBackends backends(&storage_, &fetcher_);
  const std::optional<RunOutcome> outcome = RunOnThreads(backends, options_);
  EXPECT_EQ(outcome->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome->counts.accounts(), 5000u);
  EXPECT_EQ(outcome->counts.batches(), 17u);
  ASSERT_EQ(storage_.written.size(), 1u);
  const v1::WriteSnapshotRequest& snapshot = storage_.written[0];
  ASSERT_EQ(snapshot.items_size(), 2 * 5000);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(snapshot.items(2 * i).account_id(), Account(i)) << i;
  }
}

// Parts (stage 4 of the run's file comment): a part once 1,000 items wait,
// at most one in flight, the commit naming how many.

void ExpectPartOfRun(const v1::WriteSnapshotPartRequest& part, uint32_t number) {
  EXPECT_EQ(part.part(), number);
  EXPECT_EQ(part.idempotency_key(), "run-1");
  EXPECT_EQ(part.fence().lease_name(), "scheduler");
  EXPECT_EQ(part.fence().holder_id(), "replica-a");
  EXPECT_EQ(part.fence().epoch(), 7u);
  EXPECT_EQ(part.taken_at().seconds(), 1700000000);
  EXPECT_EQ(part.taken_at().nanos(), 0);
}

TEST_F(RefreshBalancesRunTest, PartsGoOutWhileTheFetchGoesOnOneAtATime) {
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(250);  // 500 items a batch
  options_.params.set_max_batches_in_flight(2);
  storage_.hold_parts = true;
  const uint64_t parts_before = StageCount("write_parts");
  const uint64_t written_before = StageCount("write");
  auto run = Start();
  ASSERT_EQ(fetcher_.pending.size(), 2u);
  fetcher_.AnswerOne();  // 500 items wait
  EXPECT_TRUE(storage_.parts.empty());
  fetcher_.AnswerOne();  // 1,000: part 0
  ASSERT_EQ(storage_.parts.size(), 1u);
  ExpectPartOfRun(storage_.parts[0], 0);
  ASSERT_EQ(storage_.parts[0].items_size(), 1000);
  EXPECT_EQ(storage_.parts[0].items(0).account_id(), Account(0));
  EXPECT_EQ(storage_.parts[0].items(999).account_id(), Account(499));

  // Another 1,000 wait while part 0 is in flight: they wait for it.
  ASSERT_EQ(fetcher_.pending.size(), 2u);
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  EXPECT_EQ(storage_.parts.size(), 1u);
  EXPECT_EQ(fetcher_.pending.size(), 1u);  // the last batch, 203 accounts
  storage_.AnswerHeldPart();
  ASSERT_EQ(storage_.parts.size(), 2u);
  ExpectPartOfRun(storage_.parts[1], 1);
  ASSERT_EQ(storage_.parts[1].items_size(), 1000);
  EXPECT_EQ(storage_.parts[1].items(0).account_id(), Account(500));
  EXPECT_EQ(storage_.parts[1].items(999).account_id(), Account(999));

  // The fetch ends with part 1 in flight: the commit waits for its answer.
  fetcher_.AnswerOne();
  EXPECT_TRUE(storage_.written.empty());
  EXPECT_FALSE(outcome_.has_value());
  storage_.AnswerHeldPart();
  ASSERT_EQ(storage_.written.size(), 1u);
  const v1::WriteSnapshotRequest& commit = storage_.written[0];
  EXPECT_EQ(commit.parts(), 2u);
  EXPECT_EQ(commit.idempotency_key(), "run-1");
  EXPECT_EQ(commit.run_id(), "run-1");
  EXPECT_EQ(commit.fence().epoch(), 7u);
  EXPECT_EQ(commit.taken_at().seconds(), 1700000000);
  ASSERT_EQ(commit.blocks_size(), 1);
  ASSERT_EQ(commit.items_size(), 406);
  EXPECT_EQ(commit.items(0).account_id(), Account(1000));
  EXPECT_TRUE(EachItemOnce(WrittenItems(storage_.parts, storage_.written), 1203));
  EXPECT_EQ(storage_.parts.size(), 2u);
  EXPECT_FALSE(storage_.two_parts_in_flight);

  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome_->snapshot_id, "42");
  EXPECT_EQ(outcome_->counts.items_succeeded(), 2406u);
  EXPECT_EQ(progress_.back().stage(), "writing snapshot");
  EXPECT_EQ(StageCount("write_parts"), parts_before + 1);
  EXPECT_EQ(StageCount("write"), written_before + 1);
}

TEST_F(RefreshBalancesRunTest, OnceTheFetchEndedTheCommitTakesWhatWaits) {
  storage_.accounts.resize(1000);
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(250);
  options_.params.set_max_batches_in_flight(4);
  storage_.hold_parts = true;
  auto run = Start();
  ASSERT_EQ(fetcher_.pending.size(), 4u);
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  ASSERT_EQ(storage_.parts.size(), 1u);
  // 1,000 wait again, but every batch answered: no part 1, and no commit
  // while part 0 is in flight.
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  EXPECT_EQ(storage_.parts.size(), 1u);
  EXPECT_TRUE(storage_.written.empty());
  storage_.AnswerHeldPart();
  EXPECT_EQ(storage_.parts.size(), 1u);
  ASSERT_EQ(storage_.written.size(), 1u);
  EXPECT_EQ(storage_.written[0].parts(), 1u);
  ASSERT_EQ(storage_.written[0].items_size(), 1000);
  EXPECT_EQ(storage_.written[0].items(0).account_id(), Account(500));
  EXPECT_TRUE(EachItemOnce(WrittenItems(storage_.parts, storage_.written), 1000));
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
}

TEST_F(RefreshBalancesRunTest, ARunThatNeverFillsAPartWritesOneSnapshotWithoutParts) {
  options_.snapshot_part_items = RefreshBalancesRunOptions().snapshot_part_items;
  EXPECT_EQ(options_.snapshot_part_items, 1000u);
  storage_.accounts.resize(499);  // 998 items
  options_.params.set_batch_size(100);
  options_.params.set_max_batches_in_flight(4);
  const uint64_t parts_before = StageCount("write_parts");
  auto run = Start();
  while (!fetcher_.pending.empty()) fetcher_.AnswerNewest();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_TRUE(storage_.parts.empty());
  ASSERT_EQ(storage_.written.size(), 1u);
  EXPECT_EQ(storage_.written[0].parts(), 0u);
  ASSERT_EQ(storage_.written[0].items_size(), 998);
  for (int i = 0; i < 499; ++i) {
    ASSERT_EQ(storage_.written[0].items(2 * i).account_id(), Account(i)) << i;
  }
  EXPECT_EQ(StageCount("write_parts"), parts_before);  // no part, no stage
}

TEST_F(RefreshBalancesRunTest, ByDefaultADefaultBatchMakesAPart) {
  options_.snapshot_part_items = RefreshBalancesRunOptions().snapshot_part_items;
  options_.params.clear_batch_size();  // 500 accounts of two assets each
  storage_.hold_parts = true;
  auto run = Start();
  fetcher_.AnswerOne();
  ASSERT_EQ(storage_.parts.size(), 1u);
  EXPECT_EQ(storage_.parts[0].items_size(), 1000);
  fetcher_.AnswerAll();
  storage_.AnswerHeldPart();
  ASSERT_EQ(storage_.written.size(), 1u);
  EXPECT_EQ(storage_.written[0].parts(), 1u);
  EXPECT_EQ(storage_.written[0].items_size(), 1406);
}

TEST_F(RefreshBalancesRunTest, AFailedPartFailsTheRunWithNothingCommittedAndNoCallAfterIt) {
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(250);
  options_.params.set_max_batches_in_flight(2);
  storage_.hold_parts = true;
  auto run = Start();
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  ASSERT_EQ(storage_.parts.size(), 1u);
  ASSERT_EQ(fetcher_.pending.size(), 2u);
  storage_.AnswerHeldPart(absl::UnavailableError("disk I/O error"));
  // Two batches are still out: the run ends when they answered, and
  // sends nothing meanwhile (their 1,000 items would make a part).
  EXPECT_FALSE(outcome_.has_value());
  fetcher_.AnswerOne();
  EXPECT_EQ(fetcher_.pending.size(), 1u);
  EXPECT_FALSE(outcome_.has_value());
  fetcher_.AnswerOne();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->error.code(), v1::Error::UNAVAILABLE);
  EXPECT_EQ(outcome_->error.upstream(), "storage");
  EXPECT_EQ(outcome_->error.message(), "writing snapshot part 0: disk I/O error");
  EXPECT_TRUE(outcome_->snapshot_id.empty());
  EXPECT_EQ(fetcher_.calls, 4u);
  EXPECT_EQ(storage_.parts.size(), 1u);
  EXPECT_TRUE(storage_.written.empty());
}

TEST_F(RefreshBalancesRunTest, AFailedPartWithNothingElseOutEndsTheRunAtOnce) {
  storage_.accounts.resize(1500);
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(250);
  options_.params.set_max_batches_in_flight(6);
  storage_.hold_parts = true;
  const uint64_t parts_before = StageCount("write_parts");
  const uint64_t written_before = StageCount("write");
  auto run = Start();
  ASSERT_EQ(fetcher_.pending.size(), 6u);
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  storage_.AnswerHeldPart();
  ASSERT_EQ(storage_.parts.size(), 2u);
  fetcher_.AnswerAll();  // the fetch ended; part 1 is the only call out
  EXPECT_FALSE(outcome_.has_value());
  storage_.AnswerHeldPart(absl::FailedPreconditionError("lease epoch 7 is older than 8"));
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->error.code(), v1::Error::FAILED_PRECONDITION);
  EXPECT_EQ(outcome_->error.upstream(), "storage");
  EXPECT_NE(outcome_->error.message().find("writing snapshot part 1"), std::string::npos);
  EXPECT_EQ(storage_.parts.size(), 2u);
  EXPECT_TRUE(storage_.written.empty());
  EXPECT_EQ(StageCount("write_parts"), parts_before);
  EXPECT_EQ(StageCount("write"), written_before);
}

TEST_F(RefreshBalancesRunTest, ACancelWithAPartInFlightEndsCancelledOnceItAnswered) {
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(250);
  options_.params.set_max_batches_in_flight(2);
  storage_.hold_parts = true;
  auto run = Start();
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  ASSERT_EQ(storage_.parts.size(), 1u);
  run->Cancel(CancelReason("cancelled by alice"));
  fetcher_.AnswerOne();
  fetcher_.AnswerOne();
  EXPECT_TRUE(fetcher_.pending.empty());  // no new batch
  EXPECT_EQ(fetcher_.calls, 4u);
  EXPECT_FALSE(outcome_.has_value());  // part 0 is still out
  storage_.AnswerHeldPart();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome_->error.message(), "cancelled by alice");
  EXPECT_TRUE(outcome_->snapshot_id.empty());
  // Part 0 stays open in storage, never committed; no part 1.
  EXPECT_EQ(storage_.parts.size(), 1u);
  EXPECT_TRUE(storage_.written.empty());
}

TEST_F(RefreshBalancesRunTest, APartFailingAfterACancelEndsCancelled) {
  storage_.accounts.resize(1000);
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(250);
  options_.params.set_max_batches_in_flight(4);
  storage_.hold_parts = true;
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_EQ(storage_.parts.size(), 1u);
  run->Cancel(CancelReason("run timed out"));
  EXPECT_FALSE(outcome_.has_value());
  storage_.AnswerHeldPart(absl::UnavailableError("storage went away"));
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome_->error.message(), "run timed out");
  EXPECT_TRUE(storage_.written.empty());
}

TEST_F(RefreshBalancesRunTest, TheItemLimitCountsPartsAndTheCommitTogether) {
  storage_.accounts.clear();
  for (int i = 0; i < 50000; ++i) storage_.accounts.push_back(Account(i));
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(1000);
  options_.params.set_max_batches_in_flight(4);
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED) << outcome_->error.message();
  ASSERT_EQ(storage_.written.size(), 1u);
  // A part per batch but the last, which the commit takes: 100,000 in all.
  EXPECT_EQ(storage_.parts.size(), 49u);
  EXPECT_EQ(storage_.written[0].parts(), 49u);
  EXPECT_EQ(storage_.written[0].items_size(), 2000);
  for (size_t i = 0; i < storage_.parts.size(); ++i) {
    EXPECT_EQ(storage_.parts[i].part(), i);
  }
  EXPECT_TRUE(EachItemOnce(WrittenItems(storage_.parts, storage_.written), 50000));
}

TEST_F(RefreshBalancesRunTest, ARunReadingPastTheItemLimitFailsAsSoonAsItDid) {
  storage_.accounts.clear();
  for (int i = 0; i < 60000; ++i) storage_.accounts.push_back(Account(i));
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(1000);
  options_.params.set_max_batches_in_flight(4);
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->error.code(), v1::Error::RESOURCE_EXHAUSTED);
  EXPECT_EQ(outcome_->error.upstream(), "scheduler");
  EXPECT_NE(outcome_->error.message().find("at most 100000"), std::string::npos)
      << outcome_->error.message();
  // Batches 0 to 49 went in parts 0 to 49 (100,000 items); batch 50 made
  // 102,000: no part for it and no new batch, only the three already out
  // answered (batches 51 to 53), of the 60.
  EXPECT_EQ(storage_.parts.size(), 50u);
  EXPECT_EQ(fetcher_.calls, 54u);
  size_t in_parts = 0;
  for (const v1::WriteSnapshotPartRequest& part : storage_.parts) in_parts += part.items_size();
  EXPECT_EQ(in_parts, kMaxSnapshotItems);
  EXPECT_TRUE(storage_.written.empty());
}

TEST_F(RefreshBalancesRunTest, PartsAnsweringOnOtherThreadsWriteEveryItemOnce) {
  for (int i = 1203; i < 5000; ++i) storage_.accounts.push_back(Account(i));
  options_.snapshot_part_items = 1000;
  options_.params.set_batch_size(300);
  options_.params.set_max_batches_in_flight(4);
  ThreadedBackends backends(&storage_, &fetcher_);
  const std::optional<RunOutcome> outcome = RunOnThreads(backends, options_);
  EXPECT_EQ(outcome->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_FALSE(backends.two_parts_out);
  // At least one: two batches' items (1,200) wait before the last batch.
  ASSERT_FALSE(storage_.parts.empty());
  for (size_t i = 0; i < storage_.parts.size(); ++i) {
    EXPECT_EQ(storage_.parts[i].part(), i);
    EXPECT_GE(storage_.parts[i].items_size(), 1000);
  }
  ASSERT_EQ(storage_.written.size(), 1u);
  EXPECT_EQ(storage_.written[0].parts(), storage_.parts.size());
  EXPECT_TRUE(EachItemOnce(WrittenItems(storage_.parts, storage_.written), 5000));
}

}  // namespace
}  // namespace coffer::scheduler
