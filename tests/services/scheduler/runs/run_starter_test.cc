#include "services/scheduler/runs/run_starter.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace coffer::scheduler {
namespace {

// Records which calls a run makes first; answers none of them.
class RecordingBackends : public RunStorage, public RunFetcher {
 public:
  void ListAccounts(const v1::ListAccountsRequest&, Answer<v1::ListAccountsResponse>) override {
    calls.push_back("ListAccounts");
  }
  void WriteSnapshot(const v1::WriteSnapshotRequest&, Answer<v1::WriteSnapshotResponse>) override {
    calls.push_back("WriteSnapshot");
  }
  void WriteSnapshotPart(const v1::WriteSnapshotPartRequest&,
                         Answer<v1::WriteSnapshotPartResponse>) override {
    calls.push_back("WriteSnapshotPart");
  }
  void GetPortfolio(const v1::GetPortfolioRequest&, Answer<v1::GetPortfolioResponse>) override {
    calls.push_back("GetPortfolio");
  }
  void WritePrices(const v1::WritePricesRequest&, Answer<v1::WritePricesResponse>) override {
    calls.push_back("WritePrices");
  }
  void Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse>) override {
    calls.push_back(absl::StrCat("Prune epoch ", request.fence().epoch()));
  }
  absl::AnyInvocable<void()> Backup(const v1::BackupRequest& request,
                                    absl::AnyInvocable<void(const v1::BackupResponse&)>,
                                    absl::AnyInvocable<void(absl::Status) &&>) override {
    calls.push_back(absl::StrCat("Backup ", request.path()));
    return [] {};
  }
  CancelCall ResolveBlocks(const v1::ResolveBlocksRequest& request,
                           Answer<v1::ResolveBlocksResponse>) override {
    calls.push_back(request.bypass_cache() ? "ResolveBlocks forced" : "ResolveBlocks");
    return {};
  }
  CancelCall QueryBalances(const v1::QueryBalancesRequest&,
                           Answer<v1::QueryBalancesResponse>) override {
    calls.push_back("QueryBalances");
    return {};
  }
  CancelCall QueryPrices(const v1::QueryPricesRequest&, Answer<v1::QueryPricesResponse>) override {
    calls.push_back("QueryPrices");
    return {};
  }

  std::vector<std::string> calls;
};

class RunStarterTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::shared_ptr<scheduler::Run>> StartOf(const v1::Task& task) {
    RunContext context;
    context.run_id = "r1";
    context.fence.set_epoch(5);
    context.forced = forced_;
    context.started_at = absl::FromUnixSeconds(1706702400);
    return StartTaskRun({.storage = &backends_, .fetcher = &backends_}, task, context, nullptr,
                        [this](RunOutcome) { ++done_; });
  }

  RecordingBackends backends_;
  bool forced_ = false;
  int done_ = 0;
};

TEST_F(RunStarterTest, EachKindStartsItsRun) {
  v1::Task task;
  task.set_task_id("t");
  task.set_kind(v1::TASK_KIND_REFRESH_BALANCES);
  ASSERT_TRUE(StartOf(task).ok());
  task.set_kind(v1::TASK_KIND_REFRESH_PRICES);
  ASSERT_TRUE(StartOf(task).ok());
  task.set_kind(v1::TASK_KIND_BACKUP);
  task.mutable_backup()->set_path("{time}.db");
  ASSERT_TRUE(StartOf(task).ok());
  task.set_kind(v1::TASK_KIND_PRUNE);
  task.mutable_prune()->mutable_retention()->set_snapshot_keep_last(3);
  ASSERT_TRUE(StartOf(task).ok());
  forced_ = true;
  task.set_kind(v1::TASK_KIND_REFRESH_BALANCES);
  task.clear_params();
  ASSERT_TRUE(StartOf(task).ok());
  EXPECT_EQ(backends_.calls,
            (std::vector<std::string>{"ResolveBlocks", "ListAccounts", "GetPortfolio",
                                      "Backup 20240131T120000Z.db", "Prune epoch 5",
                                      "ResolveBlocks forced", "ListAccounts"}));
}

TEST_F(RunStarterTest, WhatCannotRunIsRefusedAndNothingStarts) {
  v1::Task task;
  task.set_task_id("odd");
  task.set_kind(v1::TASK_KIND_REFRESH_PRICES);
  task.mutable_backup();  // another kind's params
  absl::StatusOr<std::shared_ptr<scheduler::Run>> run = StartOf(task);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(run.status().message(), "odd")) << run.status();

  task.clear_params();
  task.set_kind(v1::TASK_KIND_UNSPECIFIED);
  EXPECT_EQ(StartOf(task).status().code(), absl::StatusCode::kInvalidArgument);

  task.set_kind(v1::TASK_KIND_PRUNE);
  task.mutable_prune();  // no retention
  run = StartOf(task);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(run.status().message(), "retention")) << run.status();

  EXPECT_TRUE(backends_.calls.empty());
  EXPECT_EQ(done_, 0);
}

}  // namespace
}  // namespace coffer::scheduler
