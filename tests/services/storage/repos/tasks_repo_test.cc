#include "services/storage/repos/tasks_repo.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "services/storage/repos/proto_time.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

// A valid task of `kind` running every minute.
v1::Task MakeTask(const std::string& task_id, v1::TaskKind kind = v1::TASK_KIND_REFRESH_BALANCES) {
  v1::Task task;
  task.set_task_id(task_id);
  task.set_kind(kind);
  task.mutable_schedule()->mutable_interval()->set_seconds(60);
  task.mutable_schedule()->set_jitter(0.1);
  if (kind == v1::TASK_KIND_PRUNE) {
    task.mutable_prune()->mutable_retention()->set_snapshot_keep_last(10);
  }
  return task;
}

class TasksRepoTest : public RepoTestBase {
 protected:
  void SetUp() override {
    RepoTestBase::SetUp();
    PutLease(kLease, kHolder, kEpoch, kNow + absl::Hours(1));
  }

  absl::Status Create(const v1::Task& task, v1::Task* stored = nullptr, absl::Time now = kNow,
                      const v1::Fence& fence = v1::Fence()) {
    v1::CreateTaskDefinitionRequest request;
    *request.mutable_fence() = fence;
    *request.mutable_task() = task;
    v1::CreateTaskDefinitionResponse response;
    absl::Status status = Write(
        [&](db::WriteContext& tx) { return CreateTaskDefinition(tx, request, &response, now); });
    if (stored != nullptr) *stored = response.task();
    return status;
  }

  absl::StatusOr<v1::Task> Get(const std::string& task_id) {
    v1::GetTaskDefinitionRequest request;
    request.set_task_id(task_id);
    v1::GetTaskDefinitionResponse response;
    absl::Status status =
        Read([&](db::ReadContext& tx) { return GetTaskDefinition(tx, request, &response); });
    if (!status.ok()) return status;
    return response.task();
  }

  absl::Status Update(const v1::Task& task, const std::vector<std::string>& paths,
                      v1::Task* updated = nullptr, uint64_t expected_revision = 0,
                      absl::Time now = kNow + absl::Minutes(5)) {
    v1::UpdateTaskDefinitionRequest request;
    *request.mutable_task() = task;
    for (const std::string& path : paths) request.mutable_update_mask()->add_paths(path);
    request.set_expected_revision(expected_revision);
    v1::UpdateTaskDefinitionResponse response;
    absl::Status status = Write(
        [&](db::WriteContext& tx) { return UpdateTaskDefinition(tx, request, &response, now); });
    if (updated != nullptr) *updated = response.task();
    return status;
  }

  absl::Status List(const std::vector<v1::TaskKind>& kinds, int32_t page_size,
                    const std::string& token, v1::ListTaskDefinitionsResponse* response) {
    v1::ListTaskDefinitionsRequest request;
    for (v1::TaskKind kind : kinds) request.add_kinds(kind);
    request.mutable_page()->set_page_size(page_size);
    request.mutable_page()->set_page_token(token);
    return Read([&](db::ReadContext& tx) { return ListTaskDefinitions(tx, request, response); });
  }

  absl::Status Delete(const std::string& task_id, bool keep_runs) {
    v1::DeleteTaskDefinitionRequest request;
    request.set_task_id(task_id);
    request.set_keep_runs(keep_runs);
    v1::DeleteTaskDefinitionResponse response;
    return Write(
        [&](db::WriteContext& tx) { return DeleteTaskDefinition(tx, request, &response, kNow); });
  }

  // A run record of `task_id` in `state`, written directly.
  void PutRun(const std::string& run_id, const std::string& task_id, int state) {
    ASSERT_TRUE(Write([&](db::WriteContext& tx) -> absl::Status {
                  absl::StatusOr<db::CachedStatement> insert = tx.Prepare(
                      "INSERT INTO runs (run_id, task_id, task_kind, state, started_at) "
                      "VALUES (?1, ?2, 1, ?3, 0)");
                  if (!insert.ok()) return insert.status();
                  absl::Status status = (*insert)->Bind(1, run_id);
                  if (status.ok()) status = (*insert)->Bind(2, task_id);
                  if (status.ok()) status = (*insert)->Bind(3, state);
                  if (status.ok()) status = (*insert)->Run();
                  return status;
                }).ok());
  }
};

TEST_F(TasksRepoTest, CreateStoresAndGetAnswersIt) {
  v1::Task task = MakeTask("refresh-balances");
  task.set_description("every minute");
  task.mutable_refresh_balances()->set_chain_id("eip155:1");
  task.mutable_refresh_balances()->set_batch_size(200);
  task.mutable_schedule()->mutable_first_run_delay()->set_seconds(30);
  task.mutable_run_retention()->set_keep_last(5);
  // Output-only and run-derived fields are ignored.
  task.set_revision(42);
  *task.mutable_created_at() = At(kNow - absl::Hours(10));
  task.set_consecutive_failures(7);
  task.set_last_run_id("old");
  v1::Task stored;
  ASSERT_TRUE(Create(task, &stored).ok());
  EXPECT_EQ(stored.revision(), 1u);
  EXPECT_EQ(stored.created_at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(stored.updated_at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(stored.next_run_time().seconds(), absl::ToUnixSeconds(kNow) + 30);
  EXPECT_EQ(stored.consecutive_failures(), 0u);
  EXPECT_EQ(stored.last_run_id(), "");
  EXPECT_FALSE(stored.paused());
  EXPECT_FALSE(stored.has_paused_at());

  absl::StatusOr<v1::Task> got = Get("refresh-balances");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->DebugString(), stored.DebugString());
  EXPECT_EQ(got->refresh_balances().batch_size(), 200u);
  EXPECT_EQ(got->description(), "every minute");
  EXPECT_EQ(got->run_retention().keep_last(), 5u);
}

TEST_F(TasksRepoTest, CreateKeepsGivenNextRunTimeAndCreatesPaused) {
  v1::Task task = MakeTask("paused-one");
  *task.mutable_next_run_time() = At(kNow + absl::Hours(3));
  task.set_paused(true);
  task.set_status_note("created paused");
  v1::Task stored;
  ASSERT_TRUE(Create(task, &stored).ok());
  EXPECT_EQ(stored.next_run_time().seconds(), absl::ToUnixSeconds(kNow + absl::Hours(3)));
  EXPECT_TRUE(stored.paused());
  EXPECT_EQ(stored.paused_at().seconds(), absl::ToUnixSeconds(kNow));
  absl::StatusOr<v1::Task> got = Get("paused-one");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status_note(), "created paused");
  EXPECT_TRUE(got->paused());
}

TEST_F(TasksRepoTest, CreateGeneratesAnIdWhenEmpty) {
  v1::Task first;
  v1::Task second;
  ASSERT_TRUE(Create(MakeTask("", v1::TASK_KIND_PRUNE), &first).ok());
  ASSERT_TRUE(Create(MakeTask("", v1::TASK_KIND_PRUNE), &second).ok());
  EXPECT_TRUE(absl::StartsWith(first.task_id(), "prune-")) << first.task_id();
  EXPECT_EQ(first.task_id().size(), strlen("prune-") + 8);
  EXPECT_NE(first.task_id(), second.task_id());
  EXPECT_TRUE(Get(first.task_id()).ok());
  EXPECT_EQ(Count("tasks"), 2);
}

TEST_F(TasksRepoTest, CreateRefusesATakenId) {
  ASSERT_TRUE(Create(MakeTask("taken")).ok());
  absl::Status status = Create(MakeTask("taken", v1::TASK_KIND_BACKUP));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "task.task_id")) << status;
  absl::StatusOr<v1::Task> got = Get("taken");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->kind(), v1::TASK_KIND_REFRESH_BALANCES);
}

TEST_F(TasksRepoTest, CreateRefusesInvalidTasksNamingTheField) {
  struct Case {
    std::string field;
    std::function<void(v1::Task&)> change;
  };
  const std::vector<Case> cases = {
      {"task.task_id", [](v1::Task& t) { t.set_task_id("Upper"); }},
      {"task.task_id", [](v1::Task& t) { t.set_task_id("-leading-dash"); }},
      {"task.task_id", [](v1::Task& t) { t.set_task_id(std::string(64, 'a')); }},
      {"task.task_id", [](v1::Task& t) { t.set_task_id("under_score"); }},
      {"task.kind", [](v1::Task& t) { t.set_kind(v1::TASK_KIND_UNSPECIFIED); }},
      {"task.kind", [](v1::Task& t) { t.set_kind(static_cast<v1::TaskKind>(99)); }},
      {"task.kind",
       [](v1::Task& t) {
         t.set_task_id("");
         t.set_kind(v1::TASK_KIND_UNSPECIFIED);
       }},
      {"task.description", [](v1::Task& t) { t.set_description(std::string(257, 'x')); }},
      {"task.status_note", [](v1::Task& t) { t.set_status_note(std::string(257, 'x')); }},
      {"task.refresh_prices", [](v1::Task& t) { t.mutable_refresh_prices(); }},
      {"task.backup", [](v1::Task& t) { t.mutable_backup()->set_path("/tmp/x"); }},
      {"task.schedule", [](v1::Task& t) { t.clear_schedule(); }},
      {"task.schedule.interval", [](v1::Task& t) { t.mutable_schedule()->clear_interval(); }},
      {"task.schedule.interval",
       [](v1::Task& t) {
         t.mutable_schedule()->mutable_interval()->set_seconds(0);
         t.mutable_schedule()->mutable_interval()->set_nanos(500000000);
       }},
      {"task.schedule.interval",
       [](v1::Task& t) { t.mutable_schedule()->mutable_interval()->set_seconds(31 * 86400); }},
      {"task.schedule.interval",
       [](v1::Task& t) { t.mutable_schedule()->mutable_interval()->set_seconds(-60); }},
      {"task.schedule.jitter", [](v1::Task& t) { t.mutable_schedule()->set_jitter(0.51); }},
      {"task.schedule.jitter", [](v1::Task& t) { t.mutable_schedule()->set_jitter(-0.1); }},
      {"task.schedule.first_run_delay",
       [](v1::Task& t) { t.mutable_schedule()->mutable_first_run_delay()->set_seconds(-1); }},
      {"task.schedule.run_timeout",
       [](v1::Task& t) { t.mutable_schedule()->mutable_run_timeout()->set_seconds(86401); }},
      {"task.schedule.backoff.initial",
       [](v1::Task& t) { t.mutable_schedule()->mutable_backoff()->mutable_max()->set_seconds(9); }},
      {"task.schedule.backoff.max",
       [](v1::Task& t) {
         v1::Backoff* b = t.mutable_schedule()->mutable_backoff();
         b->mutable_initial()->set_seconds(60);
         b->mutable_max()->set_seconds(30);
       }},
      {"task.schedule.backoff.multiplier",
       [](v1::Task& t) {
         v1::Backoff* b = t.mutable_schedule()->mutable_backoff();
         b->mutable_initial()->set_seconds(30);
         b->mutable_max()->set_seconds(60);
         b->set_multiplier(0.5);
       }},
      {"task.run_retention.keep_for",
       [](v1::Task& t) { t.mutable_run_retention()->mutable_keep_for()->set_seconds(-5); }},
      {"task.refresh_balances.chain_id",
       [](v1::Task& t) { t.mutable_refresh_balances()->set_chain_id("ethereum"); }},
      {"task.refresh_balances.tags[1]",
       [](v1::Task& t) {
         t.mutable_refresh_balances()->add_tags("ok");
         t.mutable_refresh_balances()->add_tags("Not Ok");
       }},
      {"task.refresh_balances.batch_size",
       [](v1::Task& t) { t.mutable_refresh_balances()->set_batch_size(10001); }},
      {"task.refresh_balances.max_batches_in_flight",
       [](v1::Task& t) { t.mutable_refresh_balances()->set_max_batches_in_flight(65); }},
      {"task.refresh_prices.quote_currencies[0]",
       [](v1::Task& t) {
         t.set_kind(v1::TASK_KIND_REFRESH_PRICES);
         t.mutable_refresh_prices()->add_quote_currencies("USD");
       }},
      {"task.refresh_prices.quote_currencies[1]",
       [](v1::Task& t) {
         t.set_kind(v1::TASK_KIND_REFRESH_PRICES);
         t.mutable_refresh_prices()->add_quote_currencies("usd");
         t.mutable_refresh_prices()->add_quote_currencies(std::string(17, 'a'));
       }},
      {"task.refresh_prices.quote_currencies",
       [](v1::Task& t) {
         t.set_kind(v1::TASK_KIND_REFRESH_PRICES);
         for (int i = 0; i < 11; ++i) {
           t.mutable_refresh_prices()->add_quote_currencies(absl::StrCat("c", i));
         }
       }},
      {"task.refresh_prices.extra_asset_ids[0]",
       [](v1::Task& t) {
         t.set_kind(v1::TASK_KIND_REFRESH_PRICES);
         t.mutable_refresh_prices()->add_extra_asset_ids("not-an-asset");
       }},
      {"task.prune.retention",
       [](v1::Task& t) {
         t.set_kind(v1::TASK_KIND_PRUNE);
         t.mutable_prune();
       }},
      {"task.prune", [](v1::Task& t) { t.set_kind(v1::TASK_KIND_PRUNE); }},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    v1::Task task = MakeTask(absl::StrCat("case-", i));
    cases[i].change(task);
    absl::Status status = Create(task);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << i << ": " << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), cases[i].field + ":"))
        << i << ": " << status << " does not name " << cases[i].field;
  }
  EXPECT_EQ(Count("tasks"), 0);
}

TEST_F(TasksRepoTest, ValidParamsOfEachKindAreAccepted) {
  v1::Task prices = MakeTask("prices", v1::TASK_KIND_REFRESH_PRICES);
  prices.mutable_refresh_prices()->add_quote_currencies("usd");
  prices.mutable_refresh_prices()->add_quote_currencies("eur");
  prices.mutable_refresh_prices()->add_extra_asset_ids(kUsdc);
  EXPECT_TRUE(Create(prices).ok());
  v1::Task backup = MakeTask("backup", v1::TASK_KIND_BACKUP);
  backup.mutable_backup()->set_path("/var/backups/coffer-{time}.db");
  backup.mutable_schedule()->mutable_interval()->set_seconds(30 * 86400);
  backup.mutable_schedule()->mutable_run_timeout()->set_seconds(86400);
  backup.mutable_schedule()->set_jitter(0.5);
  EXPECT_TRUE(Create(backup).ok());
  v1::Task balances = MakeTask("balances");
  balances.mutable_refresh_balances()->set_chain_id("bip122:000000000019d6689c085ae165831e93");
  balances.mutable_refresh_balances()->set_batch_size(10000);
  balances.mutable_refresh_balances()->set_max_batches_in_flight(64);
  balances.mutable_schedule()->mutable_interval()->set_seconds(1);
  v1::Backoff* backoff = balances.mutable_schedule()->mutable_backoff();
  backoff->mutable_initial()->set_seconds(30);
  backoff->mutable_max()->set_seconds(30);
  backoff->set_multiplier(1);
  EXPECT_TRUE(Create(balances).ok());
  EXPECT_EQ(Count("tasks"), 3);
}

TEST_F(TasksRepoTest, StaleFenceIsRefusedAndNothingWritten) {
  v1::Fence stale = CurrentFence();
  stale.set_epoch(kEpoch - 1);
  absl::Status status = Create(MakeTask("fenced"), nullptr, kNow, stale);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(Count("tasks"), 0);
  EXPECT_TRUE(Create(MakeTask("fenced"), nullptr, kNow, CurrentFence()).ok());
  EXPECT_EQ(Count("tasks"), 1);

  v1::UpdateTaskDefinitionRequest update;
  *update.mutable_fence() = stale;
  update.mutable_task()->set_task_id("fenced");
  update.mutable_task()->set_description("changed");
  update.mutable_update_mask()->add_paths("description");
  v1::UpdateTaskDefinitionResponse response;
  status = Write(
      [&](db::WriteContext& tx) { return UpdateTaskDefinition(tx, update, &response, kNow); });
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(Get("fenced")->description(), "");
}

TEST_F(TasksRepoTest, GetUnknownIsNotFound) {
  EXPECT_EQ(Get("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TasksRepoTest, ListPagesByTaskIdAndFiltersByKind) {
  const std::vector<std::pair<std::string, v1::TaskKind>> tasks = {
      {"e-balances", v1::TASK_KIND_REFRESH_BALANCES},
      {"a-prices", v1::TASK_KIND_REFRESH_PRICES},
      {"c-balances", v1::TASK_KIND_REFRESH_BALANCES},
      {"b-backup", v1::TASK_KIND_BACKUP},
      {"d-prune", v1::TASK_KIND_PRUNE},
  };
  for (const auto& [id, kind] : tasks) ASSERT_TRUE(Create(MakeTask(id, kind)).ok());

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListTaskDefinitionsResponse response;
    ASSERT_TRUE(List({}, 2, token, &response).ok());
    EXPECT_LE(response.tasks_size(), 2);
    for (const v1::Task& task : response.tasks()) seen.push_back(task.task_id());
    token = response.page().next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"a-prices", "b-backup", "c-balances", "d-prune",
                                            "e-balances"}));

  v1::ListTaskDefinitionsResponse first;
  ASSERT_TRUE(List({v1::TASK_KIND_REFRESH_BALANCES, v1::TASK_KIND_PRUNE}, 2, "", &first).ok());
  ASSERT_EQ(first.tasks_size(), 2);
  EXPECT_EQ(first.tasks(0).task_id(), "c-balances");
  EXPECT_EQ(first.tasks(1).task_id(), "d-prune");
  ASSERT_FALSE(first.page().next_page_token().empty());
  // The same kinds in another order and repeated are the same filter.
  v1::ListTaskDefinitionsResponse second;
  ASSERT_TRUE(List({v1::TASK_KIND_PRUNE, v1::TASK_KIND_REFRESH_BALANCES, v1::TASK_KIND_PRUNE}, 2,
                   first.page().next_page_token(), &second)
                  .ok());
  ASSERT_EQ(second.tasks_size(), 1);
  EXPECT_EQ(second.tasks(0).task_id(), "e-balances");
  EXPECT_TRUE(second.page().next_page_token().empty());

  // A token is refused with other filters.
  v1::ListTaskDefinitionsResponse other;
  absl::Status status = List({v1::TASK_KIND_BACKUP}, 2, first.page().next_page_token(), &other);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "page.page_token")) << status;
  status = List({}, 2, "garbage", &other);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = List({}, -1, "", &other);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = List({static_cast<v1::TaskKind>(0)}, 2, "", &other);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "kinds[0]")) << status;
}

TEST_F(TasksRepoTest, UpdateNestedPathChangesOnlyThatField) {
  v1::Task task = MakeTask("nested");
  task.mutable_schedule()->mutable_run_timeout()->set_seconds(600);
  task.set_description("before");
  ASSERT_TRUE(Create(task).ok());

  v1::Task changes;
  changes.set_task_id("nested");
  changes.mutable_schedule()->mutable_interval()->set_seconds(300);
  changes.mutable_schedule()->set_jitter(0.4);  // not in the mask: ignored
  changes.set_description("ignored too");
  v1::Task updated;
  ASSERT_TRUE(Update(changes, {"schedule.interval"}, &updated).ok());
  EXPECT_EQ(updated.schedule().interval().seconds(), 300);
  EXPECT_DOUBLE_EQ(updated.schedule().jitter(), 0.1);
  EXPECT_EQ(updated.schedule().run_timeout().seconds(), 600);
  EXPECT_EQ(updated.description(), "before");
  EXPECT_EQ(updated.revision(), 2u);
  EXPECT_EQ(updated.updated_at().seconds(), absl::ToUnixSeconds(kNow + absl::Minutes(5)));
  EXPECT_EQ(updated.created_at().seconds(), absl::ToUnixSeconds(kNow));
  absl::StatusOr<v1::Task> got = Get("nested");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->DebugString(), updated.DebugString());

  // A whole message path replaces it; state fields are writable.
  changes.clear_schedule();
  changes.mutable_schedule()->mutable_interval()->set_seconds(120);
  *changes.mutable_next_run_time() = At(kNow + absl::Hours(2));
  changes.set_consecutive_failures(2);
  ASSERT_TRUE(
      Update(changes, {"schedule", "next_run_time", "consecutive_failures"}, &updated, 2).ok());
  EXPECT_EQ(updated.schedule().interval().seconds(), 120);
  EXPECT_DOUBLE_EQ(updated.schedule().jitter(), 0);
  EXPECT_FALSE(updated.schedule().has_run_timeout());
  EXPECT_EQ(updated.next_run_time().seconds(), absl::ToUnixSeconds(kNow + absl::Hours(2)));
  EXPECT_EQ(updated.consecutive_failures(), 2u);
  EXPECT_EQ(updated.revision(), 3u);
}

TEST_F(TasksRepoTest, UpdateThatChangesNothingKeepsTheRevision) {
  ASSERT_TRUE(Create(MakeTask("same")).ok());
  v1::Task changes = MakeTask("same");
  v1::Task updated;
  ASSERT_TRUE(Update(changes, {"schedule"}, &updated).ok());
  EXPECT_EQ(updated.revision(), 1u);
  EXPECT_EQ(updated.updated_at().seconds(), absl::ToUnixSeconds(kNow));
}

TEST_F(TasksRepoTest, UpdatePausedSetsAndClearsPausedAt) {
  ASSERT_TRUE(Create(MakeTask("pausing")).ok());
  v1::Task changes;
  changes.set_task_id("pausing");
  changes.set_paused(true);
  changes.set_status_note("maintenance");
  v1::Task updated;
  ASSERT_TRUE(Update(changes, {"paused", "status_note"}, &updated).ok());
  EXPECT_TRUE(updated.paused());
  EXPECT_EQ(updated.status_note(), "maintenance");
  EXPECT_EQ(updated.paused_at().seconds(), absl::ToUnixSeconds(kNow + absl::Minutes(5)));
  changes.set_paused(false);
  ASSERT_TRUE(Update(changes, {"paused"}, &updated).ok());
  EXPECT_FALSE(updated.paused());
  EXPECT_FALSE(updated.has_paused_at());
  EXPECT_EQ(updated.revision(), 3u);
}

TEST_F(TasksRepoTest, UpdateExpectedRevisionConflictIsAborted) {
  ASSERT_TRUE(Create(MakeTask("rev")).ok());
  v1::Task changes;
  changes.set_task_id("rev");
  changes.set_description("first");
  ASSERT_TRUE(Update(changes, {"description"}, nullptr, 1).ok());
  changes.set_description("second");
  absl::Status status = Update(changes, {"description"}, nullptr, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  absl::StatusOr<v1::Task> got = Get("rev");
  EXPECT_EQ(got->description(), "first");
  EXPECT_EQ(got->revision(), 2u);
}

TEST_F(TasksRepoTest, UpdateRefusesBadRequests) {
  ASSERT_TRUE(Create(MakeTask("bad")).ok());
  v1::Task changes;
  changes.set_task_id("bad");
  changes.set_kind(v1::TASK_KIND_BACKUP);
  for (const char* path : {"kind", "task_id", "created_at", "updated_at", "revision", "nope",
                           "schedule.nope", "description.x"}) {
    absl::Status status = Update(changes, {"description", path});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path << ": " << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), "update_mask.paths[1]:")) << status;
  }
  EXPECT_EQ(Update(changes, {}).code(), absl::StatusCode::kInvalidArgument);
  // The result must still be a valid task: params of another kind, no interval.
  changes.mutable_refresh_prices();
  absl::Status status = Update(changes, {"refresh_prices"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "task.refresh_prices:")) << status;
  status = Update(changes, {"schedule.interval"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StartsWith(status.message(), "task.schedule.interval:")) << status;
  changes.set_task_id("unknown");
  EXPECT_EQ(Update(changes, {"description"}).code(), absl::StatusCode::kNotFound);
  changes.set_task_id("");
  EXPECT_EQ(Update(changes, {"description"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Get("bad")->revision(), 1u);
}

TEST_F(TasksRepoTest, DeleteRemovesTheTaskAndItsRunsUnlessKept) {
  ASSERT_TRUE(Create(MakeTask("gone")).ok());
  ASSERT_TRUE(Create(MakeTask("kept")).ok());
  PutRun("gone-1", "gone", v1::RUN_STATE_SUCCEEDED);
  PutRun("kept-1", "kept", v1::RUN_STATE_FAILED);
  ASSERT_TRUE(Delete("gone", false).ok());
  EXPECT_EQ(Get("gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Count("runs"), 1);
  ASSERT_TRUE(Delete("kept", true).ok());
  EXPECT_EQ(Count("tasks"), 0);
  EXPECT_EQ(Count("runs"), 1);
  EXPECT_EQ(Delete("kept", false).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Delete("", false).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TasksRepoTest, DeleteRefusesATaskWithARunningRun) {
  ASSERT_TRUE(Create(MakeTask("busy")).ok());
  PutRun("busy-1", "busy", v1::RUN_STATE_RUNNING);
  absl::Status status = Delete("busy", false);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_TRUE(Get("busy").ok());
  EXPECT_EQ(Count("runs"), 1);
}

TEST_F(TasksRepoTest, DefinitionColumnHoldsNoState) {
  v1::Task task = MakeTask("layout");
  task.set_paused(true);
  task.set_status_note("note");
  ASSERT_TRUE(Create(task).ok());
  v1::Task definition;
  ASSERT_TRUE(Read([&](db::ReadContext& tx) -> absl::Status {
                absl::StatusOr<db::CachedStatement> select = tx.Prepare(
                    "SELECT definition, paused, status_note, revision FROM tasks "
                    "WHERE task_id = 'layout'");
                if (!select.ok()) return select.status();
                absl::StatusOr<bool> row = (*select)->Step();
                if (!row.ok()) return row.status();
                EXPECT_TRUE(*row);
                absl::string_view bytes = (*select)->ColumnBlob(0);
                EXPECT_TRUE(definition.ParseFromArray(bytes.data(), bytes.size()));
                EXPECT_EQ((*select)->ColumnInt64(1), 1);
                EXPECT_EQ((*select)->ColumnText(2), "note");
                EXPECT_EQ((*select)->ColumnInt64(3), 1);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(definition.schedule().interval().seconds(), 60);
  EXPECT_FALSE(definition.paused());
  EXPECT_EQ(definition.status_note(), "");
  EXPECT_FALSE(definition.has_next_run_time());
  EXPECT_FALSE(definition.has_created_at());
  EXPECT_EQ(definition.revision(), 0u);
}

}  // namespace
}  // namespace coffer::storage
