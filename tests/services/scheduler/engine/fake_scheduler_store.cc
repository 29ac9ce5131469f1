#include "tests/services/scheduler/engine/fake_scheduler_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/message_differencer.h>

#include "common/config/proto_duration.h"
#include "common/config/proto_timestamp.h"

namespace coffer::scheduler {
namespace {

using config::DurationFromProto;
using config::TimeFromProto;
using config::TimeToProto;
using google::protobuf::util::FieldMaskUtil;
using google::protobuf::util::MessageDifferencer;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

bool IsTerminal(v1::RunState state) {
  return state >= v1::RUN_STATE_SUCCEEDED && state <= v1::RUN_STATE_SKIPPED;
}

bool IsValidRunId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Newest started first, then by run id descending, as ListRunRecords.
bool NewerFirst(const v1::Run& a, const v1::Run& b) {
  const absl::Time sa = TimeFromProto(a.started_at());
  const absl::Time sb = TimeFromProto(b.started_at());
  if (sa != sb) return sa > sb;
  return a.run_id() > b.run_id();
}

absl::StatusOr<int> PageSize(const v1::PageRequest& page) {
  if (page.page_size() < 0) return absl::InvalidArgumentError("page.page_size: negative");
  if (page.page_size() == 0) return kDefaultPageSize;
  return std::min(page.page_size(), kMaxPageSize);
}

// Whether `request` is the FinishRun that left `run` as it is (a retry).
bool RepeatsFinish(const v1::FinishRunRequest& request, const v1::Run& run) {
  if (request.state() != run.state() || request.snapshot_id() != run.snapshot_id() ||
      !MessageDifferencer::Equals(request.counts(), run.counts()) ||
      request.has_error() != run.has_error() ||
      request.error_summary_size() != run.error_summary_size()) {
    return false;
  }
  return !request.has_error() || MessageDifferencer::Equals(request.error(), run.error());
}

bool IsForbiddenPath(const std::string& path) {
  for (const char* forbidden :
       {"task_id", "kind", "created_at", "updated_at", "revision", "paused_at"}) {
    if (path == forbidden || absl::StartsWith(path, absl::StrCat(forbidden, "."))) return true;
  }
  return false;
}

const char* KindName(v1::TaskKind kind) {
  switch (kind) {
    case v1::TASK_KIND_REFRESH_BALANCES:
      return "refresh-balances";
    case v1::TASK_KIND_REFRESH_PRICES:
      return "refresh-prices";
    case v1::TASK_KIND_BACKUP:
      return "backup";
    case v1::TASK_KIND_PRUNE:
      return "prune";
    default:
      return "task";
  }
}

}  // namespace

FakeSchedulerStore::FakeSchedulerStore(const WaitableClock* clock, Answering answering)
    : clock_(clock), answering_(answering) {
  if (answering_ == Answering::kOnOwnThread) answer_thread_ = std::thread([this] { AnswerLoop(); });
}

FakeSchedulerStore::~FakeSchedulerStore() {
  if (!answer_thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    stopping_ = true;
  }
  answers_cv_.notify_all();
  answer_thread_.join();
}

void FakeSchedulerStore::AnswerLoop() {
  while (true) {
    absl::AnyInvocable<void() &&> answer;
    {
      std::unique_lock<std::mutex> lock(answers_mu_);
      answers_cv_.wait(lock, [&] { return stopping_ || !answers_.empty(); });
      if (answers_.empty()) return;  // stopping, and every answer given
      answer = std::move(answers_.front());
      answers_.pop_front();
    }
    std::move(answer)();
  }
}

void FakeSchedulerStore::Deliver(absl::AnyInvocable<void() &&> answer) {
  if (answering_ == Answering::kSynchronously) {
    std::move(answer)();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(answers_mu_);
    answers_.push_back(std::move(answer));
  }
  answers_cv_.notify_all();
}

template <typename Reply, typename Body>
void FakeSchedulerStore::Serve(Method method, Answer<Reply> done, Body body) {
  absl::StatusOr<Reply> reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status failure; Called(method, &failure)) {
      reply = std::move(failure);
    } else {
      reply = body();
    }
  }
  Deliver([done = std::move(done), reply = std::move(reply)]() mutable {
    std::move(done)(std::move(reply));
  });
}

bool FakeSchedulerStore::Called(Method method, absl::Status* failure) {
  ++calls_[method];
  std::deque<absl::Status>& failures = failures_[method];
  if (failures.empty()) return false;
  *failure = std::move(failures.front());
  failures.pop_front();
  return !failure->ok();
}

void FakeSchedulerStore::SetLease(const v1::Fence& current) {
  std::lock_guard<std::mutex> lock(mu_);
  lease_ = current;
}

void FakeSchedulerStore::FailNext(Method method, int count, absl::Status status, int after) {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<absl::Status>& failures = failures_[method];
  // Injections queue behind those not yet used up.
  for (int i = 0; i < after; ++i) failures.push_back(absl::OkStatus());
  for (int i = 0; i < count; ++i) failures.push_back(status);
}

void FakeSchedulerStore::PutTask(v1::Task task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (task.revision() == 0) task.set_revision(1);
  if (!task.has_created_at()) *task.mutable_created_at() = TimeToProto(clock_->Now());
  if (!task.has_updated_at()) *task.mutable_updated_at() = task.created_at();
  tasks_[task.task_id()] = std::move(task);
}

void FakeSchedulerStore::PutRun(v1::Run run) {
  std::lock_guard<std::mutex> lock(mu_);
  runs_[run.run_id()] = std::move(run);
}

std::optional<v1::Task> FakeSchedulerStore::GetStoredTask(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return std::nullopt;
  return it->second;
}

std::optional<v1::Run> FakeSchedulerStore::GetStoredRun(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return std::nullopt;
  return it->second;
}

std::vector<v1::Run> FakeSchedulerStore::StoredRuns(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Run> runs;
  for (const auto& [id, run] : runs_) {
    if (task_id.empty() || run.task_id() == task_id) runs.push_back(run);
  }
  std::sort(runs.begin(), runs.end(), NewerFirst);
  return runs;
}

std::vector<std::string> FakeSchedulerStore::StoredTaskIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, task] : tasks_) ids.push_back(id);
  return ids;
}

int FakeSchedulerStore::calls(Method method) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<v1::StartRunRequest> FakeSchedulerStore::start_run_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return start_run_requests_;
}

std::vector<v1::FinishRunRequest> FakeSchedulerStore::finish_run_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finish_run_requests_;
}

std::vector<v1::CreateTaskDefinitionRequest> FakeSchedulerStore::create_task_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return create_task_requests_;
}

std::vector<v1::UpdateTaskDefinitionRequest> FakeSchedulerStore::update_task_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return update_task_requests_;
}

std::vector<v1::AbandonRunsRequest> FakeSchedulerStore::abandon_runs_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return abandon_runs_requests_;
}

absl::Status FakeSchedulerStore::CheckFence(const v1::Fence& fence) const {
  if (fence.lease_name().empty()) return absl::InvalidArgumentError("fence.lease_name: required");
  if (fence.holder_id().empty()) return absl::InvalidArgumentError("fence.holder_id: required");
  if (fence.epoch() == 0) return absl::InvalidArgumentError("fence.epoch: required, > 0");
  if (!lease_.has_value() || lease_->lease_name() != fence.lease_name()) {
    return absl::FailedPreconditionError(
        absl::StrCat("fence: lease \"", fence.lease_name(), "\" is not held"));
  }
  if (lease_->holder_id() != fence.holder_id()) {
    return absl::FailedPreconditionError("fence: lease is held by another holder");
  }
  if (lease_->epoch() != fence.epoch()) {
    return absl::FailedPreconditionError(absl::StrCat("fence: lease is at epoch ", lease_->epoch(),
                                                      ", the fence at ", fence.epoch()));
  }
  return absl::OkStatus();
}

absl::Status FakeSchedulerStore::CheckOptionalFence(const v1::Fence& fence) const {
  if (fence.lease_name().empty() && fence.holder_id().empty() && fence.epoch() == 0) {
    return absl::OkStatus();
  }
  return CheckFence(fence);
}

bool FakeSchedulerStore::HasRunningRun(const std::string& task_id) const {
  for (const auto& [id, run] : runs_) {
    if (run.task_id() == task_id && run.state() == v1::RUN_STATE_RUNNING) return true;
  }
  return false;
}

void FakeSchedulerStore::ApplyRetention(const v1::Task& task) {
  std::vector<v1::Run> finished;
  for (const auto& [id, run] : runs_) {
    if (run.task_id() == task.task_id() && run.state() != v1::RUN_STATE_RUNNING) {
      finished.push_back(run);
    }
  }
  std::sort(finished.begin(), finished.end(), NewerFirst);
  const uint32_t keep_last = task.run_retention().keep_last();
  const absl::Duration keep_for = DurationFromProto(task.run_retention().keep_for());
  const absl::Time now = clock_->Now();
  for (size_t i = 0; i < finished.size(); ++i) {
    const bool beyond_count = keep_last > 0 && i >= keep_last;
    const bool too_old =
        keep_for > absl::ZeroDuration() && TimeFromProto(finished[i].started_at()) < now - keep_for;
    if (beyond_count || too_old) runs_.erase(finished[i].run_id());
  }
}

// ---------------------------------------------------------------------------
// Task definitions

void FakeSchedulerStore::CreateTask(const v1::CreateTaskDefinitionRequest& request,
                                    Answer<v1::CreateTaskDefinitionResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    create_task_requests_.push_back(request);
  }
  Serve(Method::kCreateTask, std::move(done), [&] { return DoCreateTask(request); });
}

absl::StatusOr<v1::CreateTaskDefinitionResponse> FakeSchedulerStore::DoCreateTask(
    const v1::CreateTaskDefinitionRequest& request) {
  if (absl::Status status = CheckOptionalFence(request.fence()); !status.ok()) return status;
  if (!request.has_task()) return absl::InvalidArgumentError("task: required");
  v1::Task task = request.task();
  task.clear_paused_at();
  task.clear_consecutive_failures();
  task.clear_last_run_id();
  task.clear_last_run_state();
  task.clear_last_run_finished_at();
  task.clear_created_at();
  task.clear_updated_at();
  task.clear_revision();
  if (task.kind() == v1::TASK_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError("task.kind: required");
  }
  if (!task.has_schedule() || !task.schedule().has_interval()) {
    return absl::InvalidArgumentError("task.schedule.interval: required");
  }
  if (task.task_id().empty()) {
    task.set_task_id(
        absl::StrCat(KindName(task.kind()), "-", absl::Hex(++generated_ids_, absl::kZeroPad8)));
  }
  if (tasks_.count(task.task_id()) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("task.task_id: \"", task.task_id(), "\" already exists"));
  }
  const absl::Time now = clock_->Now();
  *task.mutable_created_at() = TimeToProto(now);
  *task.mutable_updated_at() = TimeToProto(now);
  task.set_revision(1);
  if (task.paused()) *task.mutable_paused_at() = TimeToProto(now);
  if (!task.has_next_run_time()) {
    *task.mutable_next_run_time() =
        TimeToProto(now + DurationFromProto(task.schedule().first_run_delay()));
  }
  tasks_[task.task_id()] = task;
  v1::CreateTaskDefinitionResponse response;
  *response.mutable_task() = std::move(task);
  return response;
}

void FakeSchedulerStore::GetTask(const v1::GetTaskDefinitionRequest& request,
                                 Answer<v1::GetTaskDefinitionResponse> done) {
  Serve(Method::kGetTask, std::move(done), [&]() -> absl::StatusOr<v1::GetTaskDefinitionResponse> {
    if (request.task_id().empty()) return absl::InvalidArgumentError("task_id: required");
    auto it = tasks_.find(request.task_id());
    if (it == tasks_.end()) {
      return absl::NotFoundError(absl::StrCat("task_id: no task \"", request.task_id(), "\""));
    }
    v1::GetTaskDefinitionResponse response;
    *response.mutable_task() = it->second;
    return response;
  });
}

void FakeSchedulerStore::ListTasks(const v1::ListTaskDefinitionsRequest& request,
                                   Answer<v1::ListTaskDefinitionsResponse> done) {
  Serve(Method::kListTasks, std::move(done), [&] { return DoListTasks(request); });
}

absl::StatusOr<v1::ListTaskDefinitionsResponse> FakeSchedulerStore::DoListTasks(
    const v1::ListTaskDefinitionsRequest& request) {
  absl::StatusOr<int> page_size = PageSize(request.page());
  if (!page_size.ok()) return page_size.status();
  // The token is the last task id answered: ids are the order.
  const std::string& after = request.page().page_token();
  v1::ListTaskDefinitionsResponse response;
  for (auto it = tasks_.upper_bound(after); it != tasks_.end(); ++it) {
    const v1::Task& task = it->second;
    if (request.kinds_size() > 0 && std::find(request.kinds().begin(), request.kinds().end(),
                                              task.kind()) == request.kinds().end()) {
      continue;
    }
    if (response.tasks_size() == *page_size) {
      response.mutable_page()->set_next_page_token(
          response.tasks(response.tasks_size() - 1).task_id());
      break;
    }
    *response.add_tasks() = task;
  }
  return response;
}

void FakeSchedulerStore::UpdateTask(const v1::UpdateTaskDefinitionRequest& request,
                                    Answer<v1::UpdateTaskDefinitionResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    update_task_requests_.push_back(request);
  }
  Serve(Method::kUpdateTask, std::move(done), [&] { return DoUpdateTask(request); });
}

absl::StatusOr<v1::UpdateTaskDefinitionResponse> FakeSchedulerStore::DoUpdateTask(
    const v1::UpdateTaskDefinitionRequest& request) {
  if (absl::Status status = CheckOptionalFence(request.fence()); !status.ok()) return status;
  const v1::Task& changes = request.task();
  if (changes.task_id().empty()) return absl::InvalidArgumentError("task.task_id: required");
  if (request.update_mask().paths_size() == 0) {
    return absl::InvalidArgumentError("update_mask: required");
  }
  for (const std::string& path : request.update_mask().paths()) {
    if (IsForbiddenPath(path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: \"", path, "\" cannot be updated"));
    }
    if (!FieldMaskUtil::IsValidPath<v1::Task>(path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: \"", path, "\" is not a field of Task"));
    }
  }
  auto it = tasks_.find(changes.task_id());
  if (it == tasks_.end()) {
    return absl::NotFoundError(absl::StrCat("task.task_id: no task \"", changes.task_id(), "\""));
  }
  v1::Task& task = it->second;
  if (request.expected_revision() != 0 && request.expected_revision() != task.revision()) {
    return absl::AbortedError(absl::StrCat("task \"", task.task_id(), "\" is at revision ",
                                           task.revision(), ", expected ",
                                           request.expected_revision()));
  }
  v1::Task updated = task;
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(changes, request.update_mask(), options, &updated);
  const absl::Time now = clock_->Now();
  if (updated.paused() != task.paused()) {
    if (updated.paused()) {
      *updated.mutable_paused_at() = TimeToProto(now);
    } else {
      updated.clear_paused_at();
    }
  }
  if (!updated.has_schedule() || !updated.schedule().has_interval()) {
    return absl::InvalidArgumentError("task.schedule.interval: required");
  }
  if (!MessageDifferencer::Equals(updated, task)) {
    *updated.mutable_updated_at() = TimeToProto(now);
    updated.set_revision(task.revision() + 1);
    task = updated;
  }
  v1::UpdateTaskDefinitionResponse response;
  *response.mutable_task() = task;
  return response;
}

void FakeSchedulerStore::DeleteTask(const v1::DeleteTaskDefinitionRequest& request,
                                    Answer<v1::DeleteTaskDefinitionResponse> done) {
  Serve(Method::kDeleteTask, std::move(done), [&] { return DoDeleteTask(request); });
}

absl::StatusOr<v1::DeleteTaskDefinitionResponse> FakeSchedulerStore::DoDeleteTask(
    const v1::DeleteTaskDefinitionRequest& request) {
  if (absl::Status status = CheckOptionalFence(request.fence()); !status.ok()) return status;
  if (request.task_id().empty()) return absl::InvalidArgumentError("task_id: required");
  if (tasks_.count(request.task_id()) == 0) {
    return absl::NotFoundError(absl::StrCat("task_id: no task \"", request.task_id(), "\""));
  }
  if (HasRunningRun(request.task_id())) {
    return absl::FailedPreconditionError(
        absl::StrCat("task_id: task \"", request.task_id(), "\" has a running run"));
  }
  if (!request.keep_runs()) {
    for (auto it = runs_.begin(); it != runs_.end();) {
      it = it->second.task_id() == request.task_id() ? runs_.erase(it) : std::next(it);
    }
  }
  tasks_.erase(request.task_id());
  return v1::DeleteTaskDefinitionResponse();
}

// ---------------------------------------------------------------------------
// Run records

void FakeSchedulerStore::StartRun(const v1::StartRunRequest& request,
                                  Answer<v1::StartRunResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    start_run_requests_.push_back(request);
  }
  Serve(Method::kStartRun, std::move(done), [&] { return DoStartRun(request); });
}

absl::StatusOr<v1::StartRunResponse> FakeSchedulerStore::DoStartRun(
    const v1::StartRunRequest& request) {
  if (absl::Status status = CheckFence(request.fence()); !status.ok()) return status;
  if (!IsValidRunId(request.run_id())) return absl::InvalidArgumentError("run_id: invalid");
  if (request.task_id().empty()) return absl::InvalidArgumentError("task_id: required");
  if (request.trigger() == v1::RUN_TRIGGER_UNSPECIFIED) {
    return absl::InvalidArgumentError("trigger: required");
  }
  v1::StartRunResponse response;
  if (auto it = runs_.find(request.run_id()); it != runs_.end()) {
    if (it->second.task_id() != request.task_id()) {
      return absl::AlreadyExistsError("run_id: a run of another task");
    }
    *response.mutable_run() = it->second;  // a retried StartRun
    return response;
  }
  auto task = tasks_.find(request.task_id());
  if (task == tasks_.end()) {
    return absl::NotFoundError(absl::StrCat("task_id: no task \"", request.task_id(), "\""));
  }
  for (const auto& [id, run] : runs_) {
    if (run.task_id() == request.task_id() && run.state() == v1::RUN_STATE_RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat("task_id: task \"", request.task_id(),
                                                        "\" is already running run \"", id, "\""));
    }
  }
  v1::Run run;
  run.set_run_id(request.run_id());
  run.set_task_id(request.task_id());
  run.set_task_kind(task->second.kind());
  run.set_state(v1::RUN_STATE_RUNNING);
  run.set_trigger(request.trigger());
  run.set_forced(request.forced());
  run.set_coalesced(request.coalesced());
  if (request.has_scheduled_for()) *run.mutable_scheduled_for() = request.scheduled_for();
  *run.mutable_started_at() = TimeToProto(clock_->Now());
  run.set_holder_id(request.fence().holder_id());
  run.set_lease_epoch(request.fence().epoch());
  runs_[run.run_id()] = run;
  *response.mutable_run() = std::move(run);
  return response;
}

void FakeSchedulerStore::FinishRun(const v1::FinishRunRequest& request,
                                   Answer<v1::FinishRunResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finish_run_requests_.push_back(request);
  }
  Serve(Method::kFinishRun, std::move(done), [&] { return DoFinishRun(request); });
}

absl::StatusOr<v1::FinishRunResponse> FakeSchedulerStore::DoFinishRun(
    const v1::FinishRunRequest& request) {
  if (absl::Status status = CheckFence(request.fence()); !status.ok()) return status;
  if (!IsValidRunId(request.run_id())) return absl::InvalidArgumentError("run_id: invalid");
  if (!IsTerminal(request.state())) {
    return absl::InvalidArgumentError("state: not a terminal state");
  }
  if (request.has_error() && request.error().code() == v1::Error::CODE_UNSPECIFIED) {
    return absl::InvalidArgumentError("error.code: required");
  }
  auto it = runs_.find(request.run_id());
  if (it == runs_.end()) {
    return absl::NotFoundError(absl::StrCat("run_id: no run \"", request.run_id(), "\""));
  }
  v1::Run& run = it->second;
  v1::FinishRunResponse response;
  if (run.state() != v1::RUN_STATE_RUNNING) {
    if (!RepeatsFinish(request, run)) {
      return absl::FailedPreconditionError(absl::StrCat("run_id: run \"", run.run_id(), "\" is ",
                                                        v1::RunState_Name(run.state()),
                                                        ", not running"));
    }
    *response.mutable_run() = run;
    if (auto task = tasks_.find(run.task_id()); task != tasks_.end()) {
      *response.mutable_task() = task->second;
    }
    return response;
  }
  const absl::Time now = clock_->Now();
  run.set_state(request.state());
  *run.mutable_finished_at() = TimeToProto(now);
  *run.mutable_counts() = request.counts();
  if (request.has_error()) {
    *run.mutable_error() = request.error();
  } else {
    run.clear_error();
  }
  *run.mutable_error_summary() = request.error_summary();
  run.set_snapshot_id(request.snapshot_id());
  *response.mutable_run() = run;
  auto task_it = tasks_.find(run.task_id());
  if (task_it == tasks_.end()) return response;
  v1::Task& task = task_it->second;
  if (request.has_next_run_time()) {
    *task.mutable_next_run_time() = request.next_run_time();
  } else {
    task.clear_next_run_time();
  }
  task.set_consecutive_failures(request.consecutive_failures());
  task.set_last_run_id(run.run_id());
  task.set_last_run_state(run.state());
  *task.mutable_last_run_finished_at() = run.finished_at();
  if (!request.pause_note().empty()) {
    if (!task.paused()) *task.mutable_paused_at() = TimeToProto(now);
    task.set_paused(true);
    task.set_status_note(request.pause_note());
  }
  *task.mutable_updated_at() = TimeToProto(now);
  task.set_revision(task.revision() + 1);
  *response.mutable_task() = task;
  ApplyRetention(task);
  return response;
}

void FakeSchedulerStore::GetRun(const v1::GetRunRecordRequest& request,
                                Answer<v1::GetRunRecordResponse> done) {
  Serve(Method::kGetRun, std::move(done), [&]() -> absl::StatusOr<v1::GetRunRecordResponse> {
    if (request.run_id().empty()) return absl::InvalidArgumentError("run_id: required");
    auto it = runs_.find(request.run_id());
    if (it == runs_.end()) {
      return absl::NotFoundError(absl::StrCat("run_id: no run \"", request.run_id(), "\""));
    }
    v1::GetRunRecordResponse response;
    *response.mutable_run() = it->second;
    return response;
  });
}

void FakeSchedulerStore::ListRuns(const v1::ListRunRecordsRequest& request,
                                  Answer<v1::ListRunRecordsResponse> done) {
  Serve(Method::kListRuns, std::move(done), [&] { return DoListRuns(request); });
}

absl::StatusOr<v1::ListRunRecordsResponse> FakeSchedulerStore::DoListRuns(
    const v1::ListRunRecordsRequest& request) {
  absl::StatusOr<int> page_size = PageSize(request.page());
  if (!page_size.ok()) return page_size.status();
  size_t offset = 0;
  if (!request.page().page_token().empty() &&
      !absl::SimpleAtoi(request.page().page_token(), &offset)) {
    return absl::InvalidArgumentError("page.page_token: not a token of ListRunRecords");
  }
  std::vector<v1::Run> matching;
  for (const auto& [id, run] : runs_) {
    if (!request.task_id().empty() && run.task_id() != request.task_id()) continue;
    if (request.states_size() > 0 && std::find(request.states().begin(), request.states().end(),
                                               run.state()) == request.states().end()) {
      continue;
    }
    const absl::Time started = TimeFromProto(run.started_at());
    if (request.has_start_time() && started < TimeFromProto(request.start_time())) continue;
    if (request.has_end_time() && started >= TimeFromProto(request.end_time())) continue;
    matching.push_back(run);
  }
  std::sort(matching.begin(), matching.end(), NewerFirst);
  v1::ListRunRecordsResponse response;
  for (size_t i = offset; i < matching.size(); ++i) {
    if (response.runs_size() == *page_size) {
      response.mutable_page()->set_next_page_token(absl::StrCat(i));
      break;
    }
    *response.add_runs() = matching[i];
  }
  return response;
}

void FakeSchedulerStore::AbandonRuns(const v1::AbandonRunsRequest& request,
                                     Answer<v1::AbandonRunsResponse> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    abandon_runs_requests_.push_back(request);
  }
  Serve(Method::kAbandonRuns, std::move(done), [&] { return DoAbandonRuns(request); });
}

absl::StatusOr<v1::AbandonRunsResponse> FakeSchedulerStore::DoAbandonRuns(
    const v1::AbandonRunsRequest& request) {
  if (absl::Status status = CheckFence(request.fence()); !status.ok()) return status;
  if (request.reason().empty()) return absl::InvalidArgumentError("reason: required");
  const absl::Time now = clock_->Now();
  v1::AbandonRunsResponse response;
  for (auto& [id, run] : runs_) {
    if (run.state() != v1::RUN_STATE_RUNNING) continue;
    if (request.task_ids_size() > 0 &&
        std::find(request.task_ids().begin(), request.task_ids().end(), run.task_id()) ==
            request.task_ids().end()) {
      continue;
    }
    if (!request.holder_id().empty() && run.holder_id() != request.holder_id()) continue;
    run.set_state(v1::RUN_STATE_ABANDONED);
    *run.mutable_finished_at() = TimeToProto(now);
    run.mutable_error()->set_code(v1::Error::ABORTED);
    run.mutable_error()->set_message(request.reason());
    run.mutable_error()->set_upstream("");
    if (auto task = tasks_.find(run.task_id()); task != tasks_.end()) {
      task->second.set_last_run_id(run.run_id());
      task->second.set_last_run_state(run.state());
      *task->second.mutable_last_run_finished_at() = run.finished_at();
      *task->second.mutable_updated_at() = TimeToProto(now);
      task->second.set_revision(task->second.revision() + 1);
    }
    *response.add_runs() = run;
  }
  return response;
}

}  // namespace coffer::scheduler
