#include "services/storage/repos/tasks_repo.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/message_differencer.h>

#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "services/storage/repos/account_filters.h"
#include "services/storage/repos/fence.h"
#include "services/storage/repos/paging.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

using google::protobuf::util::FieldMaskUtil;

constexpr int32_t kDefaultPageSize = 100;
constexpr int32_t kMaxPageSize = 1000;
constexpr absl::string_view kTasksTokenKind = "tasks";
constexpr size_t kMaxTaskIdLength = 63;
constexpr int64_t kSecond = 1000000000;
constexpr int64_t kMinInterval = kSecond;
constexpr int64_t kMaxInterval = 30 * 24 * 3600 * kSecond;
constexpr int64_t kMaxRunTimeout = 24 * 3600 * kSecond;
constexpr double kMaxJitter = 0.5;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Fences are optional on task definitions: an all-default one counts as none.
absl::Status CheckOptionalFence(db::WriteContext& tx, const v1::Fence& fence, absl::Time now) {
  if (fence.lease_name().empty() && fence.holder_id().empty() && fence.epoch() == 0) {
    return absl::OkStatus();
  }
  return CheckFence(tx, fence, now);
}

// [a-z0-9][a-z0-9-]{0,62}
bool IsValidTaskId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxTaskIdLength) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || c != '-')) return false;
  }
  return true;
}

bool IsValidQuoteCurrency(absl::string_view quote) {
  if (quote.empty() || quote.size() > 16) return false;
  for (char c : quote) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

absl::Status ValidateNote(absl::string_view note, const std::string& field) {
  if (note.size() > kMaxTaskNoteBytes) {
    return Invalid(field, absl::StrCat(note.size(), " bytes, at most ", kMaxTaskNoteBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateBackoff(const v1::Backoff& backoff, const std::string& field) {
  ASSIGN_OR_RETURN(int64_t initial, DurationNanos(backoff.initial(), field + ".initial"));
  if (initial <= 0) return Invalid(field + ".initial", "required, > 0");
  ASSIGN_OR_RETURN(int64_t max, DurationNanos(backoff.max(), field + ".max"));
  if (max < initial) return Invalid(field + ".max", "less than initial");
  const double multiplier = backoff.multiplier();
  if (!std::isfinite(multiplier) || (multiplier != 0 && multiplier < 1)) {
    return Invalid(field + ".multiplier", absl::StrCat(multiplier, " is not 0 or >= 1"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSchedule(const v1::Task& task, const std::string& field) {
  if (!task.has_schedule()) return Invalid(field, "required");
  const v1::Schedule& schedule = task.schedule();
  if (!schedule.has_interval()) return Invalid(field + ".interval", "required");
  ASSIGN_OR_RETURN(int64_t interval, DurationNanos(schedule.interval(), field + ".interval"));
  if (interval < kMinInterval || interval > kMaxInterval) {
    return Invalid(field + ".interval", "must be 1 second to 30 days");
  }
  const double jitter = schedule.jitter();
  if (!(jitter >= 0 && jitter <= kMaxJitter)) {
    return Invalid(field + ".jitter", absl::StrCat(jitter, " is not in [0, 0.5]"));
  }
  RETURN_IF_ERROR(DurationNanos(schedule.first_run_delay(), field + ".first_run_delay").status());
  ASSIGN_OR_RETURN(int64_t timeout, DurationNanos(schedule.run_timeout(), field + ".run_timeout"));
  if (timeout > kMaxRunTimeout) return Invalid(field + ".run_timeout", "more than 24 hours");
  RETURN_IF_ERROR(
      DurationNanos(schedule.starting_deadline(), field + ".starting_deadline").status());
  if (schedule.has_backoff())
    RETURN_IF_ERROR(ValidateBackoff(schedule.backoff(), field + ".backoff"));
  return absl::OkStatus();
}

absl::Status ValidateRefreshBalances(const v1::RefreshBalancesParams& params,
                                     const std::string& field) {
  RETURN_IF_ERROR(NormalizeChainFilter(params.chain_id(), field + ".chain_id").status());
  RETURN_IF_ERROR(NormalizeTags(params.tags(), field + ".tags").status());
  if (params.batch_size() > kMaxTaskBatchSize) {
    return Invalid(field + ".batch_size",
                   absl::StrCat(params.batch_size(), ", at most ", kMaxTaskBatchSize));
  }
  if (params.max_batches_in_flight() > kMaxTaskBatchesInFlight) {
    return Invalid(
        field + ".max_batches_in_flight",
        absl::StrCat(params.max_batches_in_flight(), ", at most ", kMaxTaskBatchesInFlight));
  }
  if (!v1::BlockTag_IsValid(params.block_tag())) {
    return Invalid(field + ".block_tag", "unknown value");
  }
  return absl::OkStatus();
}

absl::Status ValidateRefreshPrices(const v1::RefreshPricesParams& params,
                                   const std::string& field) {
  if (static_cast<size_t>(params.quote_currencies_size()) > kMaxTaskQuoteCurrencies) {
    return Invalid(
        field + ".quote_currencies",
        absl::StrCat(params.quote_currencies_size(), " codes, at most ", kMaxTaskQuoteCurrencies));
  }
  for (int i = 0; i < params.quote_currencies_size(); ++i) {
    if (!IsValidQuoteCurrency(params.quote_currencies(i))) {
      return Invalid(
          absl::StrCat(field, ".quote_currencies[", i, "]"),
          absl::StrCat(Quoted(params.quote_currencies(i)), " is not lowercase [a-z0-9]{1,16}"));
    }
  }
  if (static_cast<size_t>(params.extra_asset_ids_size()) > kMaxTaskExtraAssetIds) {
    return Invalid(
        field + ".extra_asset_ids",
        absl::StrCat(params.extra_asset_ids_size(), " ids, at most ", kMaxTaskExtraAssetIds));
  }
  for (int i = 0; i < params.extra_asset_ids_size(); ++i) {
    absl::StatusOr<chain::AssetId> asset = chain::ParseAssetId(params.extra_asset_ids(i));
    if (!asset.ok()) {
      return Invalid(absl::StrCat(field, ".extra_asset_ids[", i, "]"), asset.status().message());
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePrune(const v1::PruneParams& params, const std::string& field) {
  const v1::RetentionPolicy& retention = params.retention();
  ASSIGN_OR_RETURN(int64_t snapshot_age, DurationNanos(retention.snapshot_max_age(),
                                                       field + ".retention.snapshot_max_age"));
  ASSIGN_OR_RETURN(int64_t price_age,
                   DurationNanos(retention.price_max_age(), field + ".retention.price_max_age"));
  if (snapshot_age == 0 && price_age == 0 && retention.snapshot_keep_last() == 0) {
    return Invalid(field + ".retention", "required: at least one limit set");
  }
  return absl::OkStatus();
}

// The params case each kind takes.
v1::Task::ParamsCase ParamsOf(v1::TaskKind kind) {
  switch (kind) {
    case v1::TASK_KIND_REFRESH_BALANCES:
      return v1::Task::kRefreshBalances;
    case v1::TASK_KIND_REFRESH_PRICES:
      return v1::Task::kRefreshPrices;
    case v1::TASK_KIND_BACKUP:
      return v1::Task::kBackup;
    case v1::TASK_KIND_PRUNE:
      return v1::Task::kPrune;
    default:
      return v1::Task::PARAMS_NOT_SET;
  }
}

absl::Status ValidateParams(const v1::Task& task, const std::string& prefix) {
  const v1::Task::ParamsCase params = task.params_case();
  if (params == v1::Task::PARAMS_NOT_SET) {
    // The prune kind has no default retention: its params are required.
    if (task.kind() == v1::TASK_KIND_PRUNE) return Invalid(prefix + "prune", "required");
    return absl::OkStatus();
  }
  if (params != ParamsOf(task.kind())) {
    const std::string name = task.GetDescriptor()->FindFieldByNumber(params)->name();
    return Invalid(prefix + name,
                   absl::StrCat("does not match kind ", v1::TaskKind_Name(task.kind())));
  }
  switch (params) {
    case v1::Task::kRefreshBalances:
      return ValidateRefreshBalances(task.refresh_balances(), prefix + "refresh_balances");
    case v1::Task::kRefreshPrices:
      return ValidateRefreshPrices(task.refresh_prices(), prefix + "refresh_prices");
    case v1::Task::kPrune:
      return ValidatePrune(task.prune(), prefix + "prune");
    default:
      return absl::OkStatus();
  }
}

// "refresh-balances-1f2e3d4c": the kind, then a random suffix.
std::string GenerateTaskId(v1::TaskKind kind) {
  std::string name = absl::AsciiStrToLower(v1::TaskKind_Name(kind).substr(strlen("TASK_KIND_")));
  absl::StrReplaceAll({{"_", "-"}}, &name);
  std::random_device random;
  return absl::StrCat(name, "-", absl::Hex(random(), absl::kZeroPad8));
}

// Nanos of an optional timestamp column, NULL when unset.
absl::Status BindTime(db::Statement& statement, int index, const google::protobuf::Timestamp& time,
                      bool set, absl::string_view field) {
  if (!set) return statement.BindNull(index);
  ASSIGN_OR_RETURN(int64_t nanos, ToNanos(time, field));
  return statement.Bind(index, nanos);
}

// The definition blob: the task without what the columns hold.
std::string Definition(const v1::Task& task) {
  v1::Task definition = task;
  for (int number : {1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}) {
    definition.GetReflection()->ClearField(&definition,
                                           definition.GetDescriptor()->FindFieldByNumber(number));
  }
  std::string bytes;
  definition.SerializeToString(&bytes);
  return bytes;
}

// Binds the columns of `task` as ?1..?14, in the order of the table.
absl::Status BindTask(db::Statement& statement, const v1::Task& task) {
  RETURN_IF_ERROR(statement.Bind(1, task.task_id()));
  RETURN_IF_ERROR(statement.Bind(2, static_cast<int64_t>(task.kind())));
  RETURN_IF_ERROR(statement.Bind(3, db::Blob{Definition(task)}));
  RETURN_IF_ERROR(statement.Bind(4, task.paused() ? 1 : 0));
  RETURN_IF_ERROR(statement.Bind(5, task.status_note()));
  RETURN_IF_ERROR(BindTime(statement, 6, task.paused_at(), task.has_paused_at(), "task.paused_at"));
  RETURN_IF_ERROR(
      BindTime(statement, 7, task.next_run_time(), task.has_next_run_time(), "task.next_run_time"));
  RETURN_IF_ERROR(statement.Bind(8, static_cast<int64_t>(task.consecutive_failures())));
  RETURN_IF_ERROR(statement.Bind(9, task.last_run_id()));
  RETURN_IF_ERROR(statement.Bind(10, static_cast<int64_t>(task.last_run_state())));
  RETURN_IF_ERROR(BindTime(statement, 11, task.last_run_finished_at(),
                           task.has_last_run_finished_at(), "task.last_run_finished_at"));
  ASSIGN_OR_RETURN(int64_t created, ToNanos(task.created_at(), "task.created_at"));
  RETURN_IF_ERROR(statement.Bind(12, created));
  ASSIGN_OR_RETURN(int64_t updated, ToNanos(task.updated_at(), "task.updated_at"));
  RETURN_IF_ERROR(statement.Bind(13, updated));
  return statement.Bind(14, static_cast<int64_t>(task.revision()));
}

// Every column of a task, in the order ReadTaskRow reads them.
#define COFFER_TASK_COLUMNS                                                               \
  "task_id, kind, definition, paused, status_note, paused_at, next_run_time, "            \
  "consecutive_failures, last_run_id, last_run_state, last_run_finished_at, created_at, " \
  "updated_at, revision"

absl::Status ReadTaskRow(const db::Statement& select, v1::Task* task) {
  const absl::string_view definition = select.ColumnBlob(2);
  if (!task->ParseFromArray(definition.data(), static_cast<int>(definition.size()))) {
    return absl::DataLossError(
        absl::StrCat("task ", Quoted(select.ColumnText(0)), ": unreadable definition"));
  }
  task->set_task_id(std::string(select.ColumnText(0)));
  task->set_kind(static_cast<v1::TaskKind>(select.ColumnInt64(1)));
  task->set_paused(select.ColumnInt64(3) != 0);
  task->set_status_note(std::string(select.ColumnText(4)));
  if (!select.ColumnIsNull(5)) *task->mutable_paused_at() = ToTimestamp(select.ColumnInt64(5));
  if (!select.ColumnIsNull(6)) *task->mutable_next_run_time() = ToTimestamp(select.ColumnInt64(6));
  task->set_consecutive_failures(static_cast<uint32_t>(select.ColumnInt64(7)));
  task->set_last_run_id(std::string(select.ColumnText(8)));
  task->set_last_run_state(static_cast<v1::RunState>(select.ColumnInt64(9)));
  if (!select.ColumnIsNull(10)) {
    *task->mutable_last_run_finished_at() = ToTimestamp(select.ColumnInt64(10));
  }
  *task->mutable_created_at() = ToTimestamp(select.ColumnInt64(11));
  *task->mutable_updated_at() = ToTimestamp(select.ColumnInt64(12));
  task->set_revision(static_cast<uint64_t>(select.ColumnInt64(13)));
  return absl::OkStatus();
}

absl::StatusOr<bool> HasRunningRun(db::WriteContext& tx, const std::string& task_id) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT 1 FROM runs WHERE task_id = ?1 AND state = 2"));
  RETURN_IF_ERROR(select->Bind(1, task_id));
  return select->Step();
}

// Paths UpdateTaskDefinition refuses: identity, and what storage sets itself.
bool IsForbiddenPath(absl::string_view path) {
  for (absl::string_view forbidden :
       {"task_id", "kind", "created_at", "updated_at", "revision", "paused_at"}) {
    if (path == forbidden || absl::StartsWith(path, absl::StrCat(forbidden, "."))) return true;
  }
  return false;
}

}  // namespace

absl::Status ValidateTask(const v1::Task& task, absl::string_view field) {
  const std::string prefix = field.empty() ? std::string() : absl::StrCat(field, ".");
  if (task.kind() == v1::TASK_KIND_UNSPECIFIED) return Invalid(prefix + "kind", "required");
  if (!v1::TaskKind_IsValid(task.kind())) {
    return Invalid(prefix + "kind", absl::StrCat("unknown kind ", static_cast<int>(task.kind())));
  }
  if (!IsValidTaskId(task.task_id())) {
    return Invalid(prefix + "task_id",
                   absl::StrCat(Quoted(task.task_id()), " is not [a-z0-9][a-z0-9-]{0,62}"));
  }
  RETURN_IF_ERROR(ValidateNote(task.description(), prefix + "description"));
  RETURN_IF_ERROR(ValidateNote(task.status_note(), prefix + "status_note"));
  RETURN_IF_ERROR(ValidateParams(task, prefix));
  RETURN_IF_ERROR(ValidateSchedule(task, prefix + "schedule"));
  RETURN_IF_ERROR(
      DurationNanos(task.run_retention().keep_for(), prefix + "run_retention.keep_for").status());
  if (task.has_next_run_time()) {
    RETURN_IF_ERROR(ToNanos(task.next_run_time(), prefix + "next_run_time").status());
  }
  if (task.has_last_run_finished_at()) {
    RETURN_IF_ERROR(ToNanos(task.last_run_finished_at(), prefix + "last_run_finished_at").status());
  }
  if (!v1::RunState_IsValid(task.last_run_state())) {
    return Invalid(prefix + "last_run_state", "unknown value");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> LoadTask(db::Connection& connection, absl::string_view task_id,
                              v1::Task* task) {
  ASSIGN_OR_RETURN(
      db::CachedStatement select,
      connection.Prepare("SELECT " COFFER_TASK_COLUMNS " FROM tasks WHERE task_id = ?1"));
  RETURN_IF_ERROR(select->Bind(1, task_id));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return false;
  task->Clear();
  RETURN_IF_ERROR(ReadTaskRow(*select, task));
  return true;
}

absl::Status StoreTask(db::WriteContext& tx, const v1::Task& task) {
  ASSIGN_OR_RETURN(db::CachedStatement update,
                   tx.Prepare("UPDATE tasks SET kind = ?2, definition = ?3, paused = ?4, "
                              "status_note = ?5, paused_at = ?6, next_run_time = ?7, "
                              "consecutive_failures = ?8, last_run_id = ?9, last_run_state = ?10, "
                              "last_run_finished_at = ?11, created_at = ?12, updated_at = ?13, "
                              "revision = ?14 WHERE task_id = ?1"));
  RETURN_IF_ERROR(BindTask(*update, task));
  return update->Run();
}

absl::Status CreateTaskDefinition(db::WriteContext& tx,
                                  const v1::CreateTaskDefinitionRequest& request,
                                  v1::CreateTaskDefinitionResponse* response, absl::Time now) {
  RETURN_IF_ERROR(CheckOptionalFence(tx, request.fence(), now));
  if (!request.has_task()) return Invalid("task", "required");
  v1::Task task = request.task();
  for (int number : {12, 14, 15, 16, 17, 18, 19, 20}) {
    task.GetReflection()->ClearField(&task, task.GetDescriptor()->FindFieldByNumber(number));
  }
  const bool generate_id = task.task_id().empty();
  if (generate_id && v1::TaskKind_IsValid(task.kind()) &&
      task.kind() != v1::TASK_KIND_UNSPECIFIED) {
    task.set_task_id(GenerateTaskId(task.kind()));
  }
  RETURN_IF_ERROR(ValidateTask(task, "task"));
  v1::Task existing;
  ASSIGN_OR_RETURN(bool taken, LoadTask(tx.connection(), task.task_id(), &existing));
  // A generated id that collides (1 in 2^32 per existing task) is drawn again.
  for (int attempt = 0; taken && generate_id && attempt < 8; ++attempt) {
    task.set_task_id(GenerateTaskId(task.kind()));
    ASSIGN_OR_RETURN(taken, LoadTask(tx.connection(), task.task_id(), &existing));
  }
  if (taken) {
    return absl::AlreadyExistsError(
        absl::StrCat("task.task_id: ", Quoted(task.task_id()), " already exists"));
  }
  const int64_t now_nanos = absl::ToUnixNanos(now);
  *task.mutable_created_at() = ToTimestamp(now_nanos);
  *task.mutable_updated_at() = ToTimestamp(now_nanos);
  task.set_revision(1);
  if (task.paused()) *task.mutable_paused_at() = ToTimestamp(now_nanos);
  if (!task.has_next_run_time()) {
    ASSIGN_OR_RETURN(int64_t delay, DurationNanos(task.schedule().first_run_delay(),
                                                  "task.schedule.first_run_delay"));
    if (delay > INT64_MAX - now_nanos) {
      return Invalid("task.schedule.first_run_delay", "out of range");
    }
    *task.mutable_next_run_time() = ToTimestamp(now_nanos + delay);
  }
  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO tasks (task_id, kind, definition, paused, status_note, paused_at, "
                 "next_run_time, consecutive_failures, last_run_id, last_run_state, "
                 "last_run_finished_at, created_at, updated_at, revision) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"));
  RETURN_IF_ERROR(BindTask(*insert, task));
  RETURN_IF_ERROR(insert->Run());
  *response->mutable_task() = std::move(task);
  return absl::OkStatus();
}

absl::Status GetTaskDefinition(db::ReadContext& tx, const v1::GetTaskDefinitionRequest& request,
                               v1::GetTaskDefinitionResponse* response) {
  if (request.task_id().empty()) return Invalid("task_id", "required");
  ASSIGN_OR_RETURN(bool found,
                   LoadTask(tx.connection(), request.task_id(), response->mutable_task()));
  if (!found) {
    return absl::NotFoundError(absl::StrCat("task_id: no task ", Quoted(request.task_id())));
  }
  return absl::OkStatus();
}

absl::Status ListTaskDefinitions(db::ReadContext& tx, const v1::ListTaskDefinitionsRequest& request,
                                 v1::ListTaskDefinitionsResponse* response) {
  // Kinds as a bit set, so one SQL text serves every filter.
  int64_t kinds_mask = 0;
  std::set<int> kinds;
  for (int i = 0; i < request.kinds_size(); ++i) {
    const int kind = request.kinds(i);
    if (kind == v1::TASK_KIND_UNSPECIFIED || !v1::TaskKind_IsValid(kind)) {
      return Invalid(absl::StrCat("kinds[", i, "]"), absl::StrCat("unknown kind ", kind));
    }
    kinds.insert(kind);
    kinds_mask |= int64_t{1} << kind;
  }
  const std::string fingerprint = absl::StrCat("kinds=", absl::StrJoin(kinds, ","));
  ASSIGN_OR_RETURN(int32_t page_size, PageSize(request.page(), kDefaultPageSize, kMaxPageSize));
  ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                   DecodePageToken(request.page().page_token(), kTasksTokenKind, fingerprint, 1,
                                   "ListTaskDefinitions"));
  const std::string after = cursor.empty() ? std::string() : cursor[0];
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT " COFFER_TASK_COLUMNS " FROM tasks "
                              "WHERE task_id > ?1 AND (?2 = 0 OR ((?2 >> kind) & 1) = 1) "
                              "ORDER BY task_id LIMIT ?3"));
  RETURN_IF_ERROR(select->Bind(1, after));
  RETURN_IF_ERROR(select->Bind(2, kinds_mask));
  RETURN_IF_ERROR(select->Bind(3, static_cast<int64_t>(page_size) + 1));
  ASSIGN_OR_RETURN(const bool more, ReadPage(*select, page_size, [&] {
                     return ReadTaskRow(*select, response->add_tasks());
                   }));
  if (more) {
    response->mutable_page()->set_next_page_token(
        EncodePageToken(kTasksTokenKind, fingerprint, {response->tasks(page_size - 1).task_id()}));
  }
  return absl::OkStatus();
}

absl::Status UpdateTaskDefinition(db::WriteContext& tx,
                                  const v1::UpdateTaskDefinitionRequest& request,
                                  v1::UpdateTaskDefinitionResponse* response, absl::Time now) {
  RETURN_IF_ERROR(CheckOptionalFence(tx, request.fence(), now));
  const v1::Task& changes = request.task();
  if (changes.task_id().empty()) return Invalid("task.task_id", "required");
  if (request.update_mask().paths_size() == 0) return Invalid("update_mask", "required");
  for (int i = 0; i < request.update_mask().paths_size(); ++i) {
    const std::string& path = request.update_mask().paths(i);
    const std::string field = absl::StrCat("update_mask.paths[", i, "]");
    if (IsForbiddenPath(path)) {
      return Invalid(field, absl::StrCat(Quoted(path), " cannot be updated"));
    }
    if (!FieldMaskUtil::IsValidPath<v1::Task>(path)) {
      return Invalid(field, absl::StrCat(Quoted(path), " is not a field of Task"));
    }
  }
  v1::Task task;
  ASSIGN_OR_RETURN(bool found, LoadTask(tx.connection(), changes.task_id(), &task));
  if (!found) {
    return absl::NotFoundError(absl::StrCat("task.task_id: no task ", Quoted(changes.task_id())));
  }
  if (request.expected_revision() != 0 && request.expected_revision() != task.revision()) {
    return absl::AbortedError(absl::StrCat("task ", Quoted(task.task_id()), " is at revision ",
                                           task.revision(), ", expected ",
                                           request.expected_revision()));
  }
  const v1::Task before = task;
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(changes, request.update_mask(), options, &task);
  if (task.paused() != before.paused()) {
    if (task.paused()) {
      *task.mutable_paused_at() = ToTimestamp(absl::ToUnixNanos(now));
    } else {
      task.clear_paused_at();
    }
  }
  RETURN_IF_ERROR(ValidateTask(task, "task"));
  if (!google::protobuf::util::MessageDifferencer::Equals(task, before)) {
    *task.mutable_updated_at() = ToTimestamp(absl::ToUnixNanos(now));
    task.set_revision(before.revision() + 1);
    RETURN_IF_ERROR(StoreTask(tx, task));
  }
  *response->mutable_task() = std::move(task);
  return absl::OkStatus();
}

absl::Status DeleteTaskDefinition(db::WriteContext& tx,
                                  const v1::DeleteTaskDefinitionRequest& request,
                                  v1::DeleteTaskDefinitionResponse* /*response*/, absl::Time now) {
  RETURN_IF_ERROR(CheckOptionalFence(tx, request.fence(), now));
  if (request.task_id().empty()) return Invalid("task_id", "required");
  const std::string id = Quoted(request.task_id());
  ASSIGN_OR_RETURN(db::CachedStatement exists,
                   tx.Prepare("SELECT 1 FROM tasks WHERE task_id = ?1"));
  RETURN_IF_ERROR(exists->Bind(1, request.task_id()));
  ASSIGN_OR_RETURN(bool found, exists->Step());
  if (!found) return absl::NotFoundError(absl::StrCat("task_id: no task ", id));
  ASSIGN_OR_RETURN(bool running, HasRunningRun(tx, request.task_id()));
  if (running) {
    return absl::FailedPreconditionError(
        absl::StrCat("task_id: task ", id, " has a running run; finish or abandon it first"));
  }
  if (!request.keep_runs()) {
    ASSIGN_OR_RETURN(db::CachedStatement runs, tx.Prepare("DELETE FROM runs WHERE task_id = ?1"));
    RETURN_IF_ERROR(runs->Bind(1, request.task_id()));
    RETURN_IF_ERROR(runs->Run());
  }
  ASSIGN_OR_RETURN(db::CachedStatement task, tx.Prepare("DELETE FROM tasks WHERE task_id = ?1"));
  RETURN_IF_ERROR(task->Bind(1, request.task_id()));
  return task->Run();
}

}  // namespace coffer::storage
