#include "services/storage/repos/runs_repo.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <google/protobuf/util/message_differencer.h>

#include "common/status/status_macros.h"
#include "services/storage/repos/fence.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"
#include "services/storage/repos/tasks_repo.h"

namespace coffer::storage {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr int32_t kDefaultPageSize = 100;
constexpr int32_t kMaxPageSize = 1000;
constexpr absl::string_view kRunsTokenKind = "runs";
constexpr size_t kMaxRunIdLength = 64;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// [A-Za-z0-9_-]{1,64}
bool IsValidRunId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRunIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::Status ValidateRunId(absl::string_view id) {
  if (id.empty()) return Invalid("run_id", "required");
  if (!IsValidRunId(id)) {
    return Invalid("run_id", absl::StrCat(Quoted(id), " is not [A-Za-z0-9_-]{1,64}"));
  }
  return absl::OkStatus();
}

bool IsTerminal(v1::RunState state) {
  return state >= v1::RUN_STATE_SUCCEEDED && state <= v1::RUN_STATE_SKIPPED;
}

// Every stored column of a run, in the order ReadRunRow reads them.
#define COFFER_RUN_COLUMNS                                                               \
  "run_id, task_id, task_kind, state, run_trigger, forced, coalesced, scheduled_for, "   \
  "started_at, finished_at, holder_id, lease_epoch, counts, error_code, error_message, " \
  "error_upstream, error_summary, snapshot_id"

absl::Status ReadRunRow(const db::Statement& select, v1::Run* run) {
  run->set_run_id(std::string(select.ColumnText(0)));
  run->set_task_id(std::string(select.ColumnText(1)));
  run->set_task_kind(static_cast<v1::TaskKind>(select.ColumnInt64(2)));
  run->set_state(static_cast<v1::RunState>(select.ColumnInt64(3)));
  run->set_trigger(static_cast<v1::RunTrigger>(select.ColumnInt64(4)));
  run->set_forced(select.ColumnInt64(5) != 0);
  run->set_coalesced(static_cast<uint32_t>(select.ColumnInt64(6)));
  if (!select.ColumnIsNull(7)) *run->mutable_scheduled_for() = ToTimestamp(select.ColumnInt64(7));
  *run->mutable_started_at() = ToTimestamp(select.ColumnInt64(8));
  if (!select.ColumnIsNull(9)) *run->mutable_finished_at() = ToTimestamp(select.ColumnInt64(9));
  run->set_holder_id(std::string(select.ColumnText(10)));
  run->set_lease_epoch(static_cast<uint64_t>(select.ColumnInt64(11)));
  const std::string unreadable = absl::StrCat("run ", Quoted(run->run_id()), ": unreadable ");
  if (!select.ColumnIsNull(12)) {
    const absl::string_view counts = select.ColumnBlob(12);
    if (!run->mutable_counts()->ParseFromArray(counts.data(), static_cast<int>(counts.size()))) {
      return absl::DataLossError(unreadable + "counts");
    }
  }
  if (!select.ColumnIsNull(13)) {
    v1::Error* error = run->mutable_error();
    error->set_code(static_cast<v1::Error::Code>(select.ColumnInt64(13)));
    error->set_message(std::string(select.ColumnText(14)));
    error->set_upstream(std::string(select.ColumnText(15)));
  }
  if (!select.ColumnIsNull(16)) {
    // The column holds a Run carrying only its error_summary.
    v1::Run summary;
    const absl::string_view bytes = select.ColumnBlob(16);
    if (!summary.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return absl::DataLossError(unreadable + "error_summary");
    }
    run->mutable_error_summary()->Swap(summary.mutable_error_summary());
  }
  run->set_snapshot_id(std::string(select.ColumnText(17)));
  return absl::OkStatus();
}

absl::StatusOr<bool> LoadRun(db::Connection& connection, absl::string_view run_id, v1::Run* run) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   connection.Prepare("SELECT " COFFER_RUN_COLUMNS " FROM runs WHERE run_id = ?1"));
  RETURN_IF_ERROR(select->Bind(1, run_id));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return false;
  run->Clear();
  RETURN_IF_ERROR(ReadRunRow(*select, run));
  return true;
}

// Records `run` as the last finished run of its task, if the task still
// exists; `task` receives the task as stored.
absl::StatusOr<bool> RecordLastRun(db::WriteContext& tx, const v1::Run& run, int64_t now_nanos,
                                   v1::Task* task) {
  ASSIGN_OR_RETURN(bool found, LoadTask(tx.connection(), run.task_id(), task));
  if (!found) return false;
  task->set_last_run_id(run.run_id());
  task->set_last_run_state(run.state());
  *task->mutable_last_run_finished_at() = run.finished_at();
  *task->mutable_updated_at() = ToTimestamp(now_nanos);
  task->set_revision(task->revision() + 1);
  RETURN_IF_ERROR(StoreTask(tx, *task));
  return true;
}

// Whether `request` is the FinishRun that left `run` as it is.
bool RepeatsFinish(const v1::FinishRunRequest& request, const v1::Run& run) {
  if (request.state() != run.state() || request.snapshot_id() != run.snapshot_id() ||
      !MessageDifferencer::Equals(request.counts(), run.counts()) ||
      request.has_error() != run.has_error() ||
      request.error_summary_size() != run.error_summary_size()) {
    return false;
  }
  if (request.has_error() && (request.error().code() != run.error().code() ||
                              request.error().message() != run.error().message() ||
                              request.error().upstream() != run.error().upstream())) {
    return false;
  }
  for (int i = 0; i < request.error_summary_size(); ++i) {
    if (!MessageDifferencer::Equals(request.error_summary(i), run.error_summary(i))) return false;
  }
  return true;
}

absl::Status ValidateFinish(const v1::FinishRunRequest& request) {
  RETURN_IF_ERROR(ValidateRunId(request.run_id()));
  if (!IsTerminal(request.state())) {
    return Invalid("state", absl::StrCat(v1::RunState_IsValid(request.state())
                                             ? v1::RunState_Name(request.state())
                                             : absl::StrCat(static_cast<int>(request.state())),
                                         " is not a terminal state"));
  }
  if (request.has_error() && (request.error().code() <= v1::Error::CODE_UNSPECIFIED ||
                              request.error().code() > v1::Error::UNAUTHENTICATED)) {
    return Invalid("error.code", "required, a known code");
  }
  if (static_cast<size_t>(request.error_summary_size()) > kMaxRunErrorGroups) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "error_summary: ", request.error_summary_size(), " groups, at most ", kMaxRunErrorGroups));
  }
  if (request.pause_note().size() > kMaxTaskNoteBytes) {
    return Invalid("pause_note", absl::StrCat(request.pause_note().size(), " bytes, at most ",
                                              kMaxTaskNoteBytes));
  }
  if (request.has_next_run_time()) {
    RETURN_IF_ERROR(ToNanos(request.next_run_time(), "next_run_time").status());
  }
  return absl::OkStatus();
}

// Deletes the finished runs of `task` its run retention no longer keeps.
absl::Status ApplyRetention(db::WriteContext& tx, const v1::Task& task, int64_t now_nanos) {
  const v1::RunRetention& retention = task.run_retention();
  if (retention.keep_last() > 0) {
    ASSIGN_OR_RETURN(
        db::CachedStatement prune,
        tx.Prepare("DELETE FROM runs WHERE task_id = ?1 AND state != 2 AND run_id NOT IN "
                   "(SELECT run_id FROM runs WHERE task_id = ?1 AND state != 2 "
                   "ORDER BY started_at DESC, run_id DESC LIMIT ?2)"));
    RETURN_IF_ERROR(prune->Bind(1, task.task_id()));
    RETURN_IF_ERROR(prune->Bind(2, static_cast<int64_t>(retention.keep_last())));
    RETURN_IF_ERROR(prune->Run());
  }
  ASSIGN_OR_RETURN(int64_t keep_for,
                   DurationNanos(retention.keep_for(), "task.run_retention.keep_for"));
  if (keep_for > 0) {
    ASSIGN_OR_RETURN(db::CachedStatement prune,
                     tx.Prepare("DELETE FROM runs WHERE task_id = ?1 AND state != 2 "
                                "AND started_at < ?2"));
    RETURN_IF_ERROR(prune->Bind(1, task.task_id()));
    // Saturates instead of wrapping for a keep_for reaching before 1677.
    RETURN_IF_ERROR(
        prune->Bind(2, now_nanos < INT64_MIN + keep_for ? INT64_MIN : now_nanos - keep_for));
    RETURN_IF_ERROR(prune->Run());
  }
  return absl::OkStatus();
}

// The filters of a ListRunRecords request in normal form.
struct RunFilters {
  std::string task_id;
  int64_t states_mask = 0;
  std::set<int> states;
  bool has_start = false;
  int64_t start = 0;
  bool has_end = false;
  int64_t end = 0;

  // Hex keeps any task_id printable inside the token.
  std::string Fingerprint() const {
    return absl::StrCat(
        "task=", absl::BytesToHexString(task_id), ";states=", absl::StrJoin(states, ","),
        ";start=", has_start ? absl::StrCat(start) : "", ";end=", has_end ? absl::StrCat(end) : "");
  }
};

absl::StatusOr<RunFilters> ListFilters(const v1::ListRunRecordsRequest& request) {
  RunFilters filters;
  filters.task_id = request.task_id();
  for (int i = 0; i < request.states_size(); ++i) {
    const int state = request.states(i);
    if (state == v1::RUN_STATE_UNSPECIFIED || !v1::RunState_IsValid(state)) {
      return Invalid(absl::StrCat("states[", i, "]"), absl::StrCat("unknown state ", state));
    }
    filters.states.insert(state);
    filters.states_mask |= int64_t{1} << state;
  }
  if (request.has_start_time()) {
    filters.has_start = true;
    ASSIGN_OR_RETURN(filters.start, ToNanos(request.start_time(), "start_time"));
  }
  if (request.has_end_time()) {
    filters.has_end = true;
    ASSIGN_OR_RETURN(filters.end, ToNanos(request.end_time(), "end_time"));
  }
  return filters;
}

absl::Status BindOptional(db::Statement& statement, int index, bool set, int64_t value) {
  return set ? statement.Bind(index, value) : statement.BindNull(index);
}

}  // namespace

absl::Status StartRun(db::WriteContext& tx, const v1::StartRunRequest& request,
                      v1::StartRunResponse* response, absl::Time now) {
  RETURN_IF_ERROR(CheckFence(tx, request.fence(), now));
  RETURN_IF_ERROR(ValidateRunId(request.run_id()));
  if (request.task_id().empty()) return Invalid("task_id", "required");
  if (request.trigger() == v1::RUN_TRIGGER_UNSPECIFIED) return Invalid("trigger", "required");
  if (!v1::RunTrigger_IsValid(request.trigger())) return Invalid("trigger", "unknown value");
  int64_t scheduled_for = 0;
  if (request.has_scheduled_for()) {
    ASSIGN_OR_RETURN(scheduled_for, ToNanos(request.scheduled_for(), "scheduled_for"));
  }
  v1::Run* run = response->mutable_run();
  ASSIGN_OR_RETURN(bool started, LoadRun(tx.connection(), request.run_id(), run));
  if (started) {
    if (run->task_id() == request.task_id()) return absl::OkStatus();
    return absl::AlreadyExistsError(
        absl::StrCat("run_id: ", Quoted(request.run_id()), " is a run of another task"));
  }
  v1::Task task;
  ASSIGN_OR_RETURN(bool found, LoadTask(tx.connection(), request.task_id(), &task));
  if (!found) {
    return absl::NotFoundError(absl::StrCat("task_id: no task ", Quoted(request.task_id())));
  }
  // The unique index runs_one_running_per_task would refuse the insert as
  // well; asking first gives a message that names the running run.
  ASSIGN_OR_RETURN(db::CachedStatement running,
                   tx.Prepare("SELECT run_id FROM runs WHERE task_id = ?1 AND state = 2"));
  RETURN_IF_ERROR(running->Bind(1, request.task_id()));
  ASSIGN_OR_RETURN(bool overlaps, running->Step());
  if (overlaps) {
    return absl::FailedPreconditionError(absl::StrCat("task_id: task ", Quoted(request.task_id()),
                                                      " is already running run ",
                                                      Quoted(running->ColumnText(0))));
  }
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO runs (run_id, task_id, task_kind, state, run_trigger, forced, "
                 "coalesced, scheduled_for, started_at, holder_id, lease_epoch) "
                 "VALUES (?1, ?2, ?3, 2, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  RETURN_IF_ERROR(insert->Bind(1, request.run_id()));
  RETURN_IF_ERROR(insert->Bind(2, request.task_id()));
  RETURN_IF_ERROR(insert->Bind(3, static_cast<int64_t>(task.kind())));
  RETURN_IF_ERROR(insert->Bind(4, static_cast<int64_t>(request.trigger())));
  RETURN_IF_ERROR(insert->Bind(5, request.forced() ? 1 : 0));
  RETURN_IF_ERROR(insert->Bind(6, static_cast<int64_t>(request.coalesced())));
  RETURN_IF_ERROR(BindOptional(*insert, 7, request.has_scheduled_for(), scheduled_for));
  RETURN_IF_ERROR(insert->Bind(8, now_nanos));
  RETURN_IF_ERROR(insert->Bind(9, request.fence().holder_id()));
  RETURN_IF_ERROR(insert->Bind(10, static_cast<int64_t>(request.fence().epoch())));
  RETURN_IF_ERROR(insert->Run());
  ASSIGN_OR_RETURN(bool stored, LoadRun(tx.connection(), request.run_id(), run));
  if (!stored) return absl::InternalError("run_id: the inserted run is missing");
  return absl::OkStatus();
}

absl::Status FinishRun(db::WriteContext& tx, const v1::FinishRunRequest& request,
                       v1::FinishRunResponse* response, absl::Time now) {
  RETURN_IF_ERROR(CheckFence(tx, request.fence(), now));
  RETURN_IF_ERROR(ValidateFinish(request));
  v1::Run* run = response->mutable_run();
  ASSIGN_OR_RETURN(bool found, LoadRun(tx.connection(), request.run_id(), run));
  const std::string id = Quoted(request.run_id());
  if (!found) return absl::NotFoundError(absl::StrCat("run_id: no run ", id));
  if (run->state() != v1::RUN_STATE_RUNNING) {
    if (!RepeatsFinish(request, *run)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run_id: run ", id, " is ", v1::RunState_Name(run->state()), ", not running"));
    }
    ASSIGN_OR_RETURN(bool task_found,
                     LoadTask(tx.connection(), run->task_id(), response->mutable_task()));
    if (!task_found) response->clear_task();
    return absl::OkStatus();
  }
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(db::CachedStatement update,
                   tx.Prepare("UPDATE runs SET state = ?2, finished_at = ?3, counts = ?4, "
                              "error_code = ?5, error_message = ?6, error_upstream = ?7, "
                              "error_summary = ?8, snapshot_id = ?9 WHERE run_id = ?1"));
  RETURN_IF_ERROR(update->Bind(1, request.run_id()));
  RETURN_IF_ERROR(update->Bind(2, static_cast<int64_t>(request.state())));
  RETURN_IF_ERROR(update->Bind(3, now_nanos));
  const std::string counts = request.counts().SerializeAsString();
  RETURN_IF_ERROR(update->Bind(4, db::Blob{counts}));
  if (request.has_error()) {
    RETURN_IF_ERROR(update->Bind(5, static_cast<int64_t>(request.error().code())));
    RETURN_IF_ERROR(update->Bind(6, request.error().message()));
    RETURN_IF_ERROR(update->Bind(7, request.error().upstream()));
  } else {
    for (int index : {5, 6, 7}) RETURN_IF_ERROR(update->BindNull(index));
  }
  v1::Run summary;
  *summary.mutable_error_summary() = request.error_summary();
  const std::string summary_bytes = summary.SerializeAsString();
  RETURN_IF_ERROR(update->Bind(8, db::Blob{summary_bytes}));
  RETURN_IF_ERROR(update->Bind(9, request.snapshot_id()));
  RETURN_IF_ERROR(update->Run());
  ASSIGN_OR_RETURN(found, LoadRun(tx.connection(), request.run_id(), run));

  v1::Task* task = response->mutable_task();
  ASSIGN_OR_RETURN(bool task_found, LoadTask(tx.connection(), run->task_id(), task));
  if (!task_found) {
    // Unreachable through the API (a task with a running run cannot be
    // deleted), but a run record outliving its task must still finish.
    response->clear_task();
    return absl::OkStatus();
  }
  if (request.has_next_run_time()) {
    *task->mutable_next_run_time() = request.next_run_time();
  } else {
    task->clear_next_run_time();
  }
  task->set_consecutive_failures(request.consecutive_failures());
  task->set_last_run_id(run->run_id());
  task->set_last_run_state(run->state());
  *task->mutable_last_run_finished_at() = run->finished_at();
  if (!request.pause_note().empty()) {
    if (!task->paused()) *task->mutable_paused_at() = ToTimestamp(now_nanos);
    task->set_paused(true);
    task->set_status_note(request.pause_note());
  }
  *task->mutable_updated_at() = ToTimestamp(now_nanos);
  task->set_revision(task->revision() + 1);
  RETURN_IF_ERROR(StoreTask(tx, *task));
  return ApplyRetention(tx, *task, now_nanos);
}

absl::Status GetRunRecord(db::ReadContext& tx, const v1::GetRunRecordRequest& request,
                          v1::GetRunRecordResponse* response) {
  if (request.run_id().empty()) return Invalid("run_id", "required");
  ASSIGN_OR_RETURN(bool found, LoadRun(tx.connection(), request.run_id(), response->mutable_run()));
  if (!found) return absl::NotFoundError(absl::StrCat("run_id: no run ", Quoted(request.run_id())));
  return absl::OkStatus();
}

absl::Status ListRunRecords(db::ReadContext& tx, const v1::ListRunRecordsRequest& request,
                            v1::ListRunRecordsResponse* response) {
  ASSIGN_OR_RETURN(RunFilters filters, ListFilters(request));
  const std::string fingerprint = filters.Fingerprint();
  ASSIGN_OR_RETURN(int32_t page_size, PageSize(request.page(), kDefaultPageSize, kMaxPageSize));
  ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                   DecodePageToken(request.page().page_token(), kRunsTokenKind, fingerprint, 2,
                                   "ListRunRecords"));
  int64_t after_started = 0;
  if (!cursor.empty() && !absl::SimpleAtoi(cursor[0], &after_started)) {
    return Invalid("page.page_token", "not a token of ListRunRecords");
  }
  // Two texts, so a task filter reads through runs_by_task_started and the
  // rest through runs_by_started.
  constexpr char kConditions[] =
      "(?2 = 0 OR ((?2 >> state) & 1) = 1) AND (?3 IS NULL OR started_at >= ?3) "
      "AND (?4 IS NULL OR started_at < ?4) "
      "AND (?5 IS NULL OR started_at < ?5 OR (started_at = ?5 AND run_id < ?6)) "
      "ORDER BY started_at DESC, run_id DESC LIMIT ?7";
  const std::string sql =
      filters.task_id.empty()
          ? absl::StrCat("SELECT " COFFER_RUN_COLUMNS " FROM runs WHERE ", kConditions)
          : absl::StrCat("SELECT " COFFER_RUN_COLUMNS " FROM runs WHERE task_id = ?1 AND ",
                         kConditions);
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(sql));
  if (!filters.task_id.empty()) RETURN_IF_ERROR(select->Bind(1, filters.task_id));
  RETURN_IF_ERROR(select->Bind(2, filters.states_mask));
  RETURN_IF_ERROR(BindOptional(*select, 3, filters.has_start, filters.start));
  RETURN_IF_ERROR(BindOptional(*select, 4, filters.has_end, filters.end));
  RETURN_IF_ERROR(BindOptional(*select, 5, !cursor.empty(), after_started));
  RETURN_IF_ERROR(select->Bind(6, cursor.empty() ? std::string() : cursor[1]));
  RETURN_IF_ERROR(select->Bind(7, static_cast<int64_t>(page_size) + 1));
  ASSIGN_OR_RETURN(const bool more, ReadPage(*select, page_size, [&] {
                     return ReadRunRow(*select, response->add_runs());
                   }));
  if (more) {
    const v1::Run& last = response->runs(page_size - 1);
    ASSIGN_OR_RETURN(int64_t last_started, ToNanos(last.started_at(), "started_at"));
    response->mutable_page()->set_next_page_token(
        EncodePageToken(kRunsTokenKind, fingerprint, {absl::StrCat(last_started), last.run_id()}));
  }
  return absl::OkStatus();
}

absl::Status AbandonRuns(db::WriteContext& tx, const v1::AbandonRunsRequest& request,
                         v1::AbandonRunsResponse* response, absl::Time now) {
  RETURN_IF_ERROR(CheckFence(tx, request.fence(), now));
  if (request.reason().empty()) return Invalid("reason", "required");
  if (static_cast<size_t>(request.task_ids_size()) > kMaxAbandonTaskIds) {
    return absl::ResourceExhaustedError(
        absl::StrCat("task_ids: ", request.task_ids_size(), " ids, at most ", kMaxAbandonTaskIds));
  }
  for (int i = 0; i < request.task_ids_size(); ++i) {
    if (request.task_ids(i).empty()) return Invalid(absl::StrCat("task_ids[", i, "]"), "empty");
  }
  // Collected first: the rows change under the SELECT otherwise.
  std::vector<v1::Run> runs;
  const std::set<std::string> task_ids(request.task_ids().begin(), request.task_ids().end());
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT " COFFER_RUN_COLUMNS " FROM runs WHERE state = 2 AND "
                              "(?1 IS NULL OR task_id = ?1) AND (?2 = '' OR holder_id = ?2) "
                              "ORDER BY task_id"));
  auto collect = [&](const std::string* task_id) -> absl::Status {
    if (task_id == nullptr) {
      RETURN_IF_ERROR(select->BindNull(1));
    } else {
      RETURN_IF_ERROR(select->Bind(1, *task_id));
    }
    RETURN_IF_ERROR(select->Bind(2, request.holder_id()));
    while (true) {
      ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      runs.emplace_back();
      RETURN_IF_ERROR(ReadRunRow(*select, &runs.back()));
    }
    select->Reset();
    return absl::OkStatus();
  };
  if (task_ids.empty()) {
    RETURN_IF_ERROR(collect(nullptr));
  } else {
    for (const std::string& task_id : task_ids) RETURN_IF_ERROR(collect(&task_id));
  }
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(db::CachedStatement update,
                   tx.Prepare("UPDATE runs SET state = ?2, finished_at = ?3, error_code = ?4, "
                              "error_message = ?5, error_upstream = '' WHERE run_id = ?1"));
  for (v1::Run& run : runs) {
    RETURN_IF_ERROR(update->Bind(1, run.run_id()));
    RETURN_IF_ERROR(update->Bind(2, static_cast<int64_t>(v1::RUN_STATE_ABANDONED)));
    RETURN_IF_ERROR(update->Bind(3, now_nanos));
    RETURN_IF_ERROR(update->Bind(4, static_cast<int64_t>(v1::Error::ABORTED)));
    RETURN_IF_ERROR(update->Bind(5, request.reason()));
    RETURN_IF_ERROR(update->Run());
    update->Reset();
    run.set_state(v1::RUN_STATE_ABANDONED);
    *run.mutable_finished_at() = ToTimestamp(now_nanos);
    run.mutable_error()->set_code(v1::Error::ABORTED);
    run.mutable_error()->set_message(request.reason());
    run.mutable_error()->set_upstream("");
    v1::Task task;
    RETURN_IF_ERROR(RecordLastRun(tx, run, now_nanos, &task).status());
    *response->add_runs() = std::move(run);
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage
