// An in-memory SchedulerStore that keeps task definitions and run records the
// way storage does (services/storage/repos/tasks_repo.cc, runs_repo.cc): the
// same checks, status codes and one-step writes, on a WaitableClock the test
// also hands the engine, so stored times are the engine's times. A test can
// make the next calls of a method fail, read what was called, and look at or
// seed the stored rows directly.
//
//   FakeWaitableClock clock;
//   FakeSchedulerStore store(&clock);
//   store.SetLease(fence);                        // the fence writes must carry
//   store.PutTask(task);                          // as if stored earlier
//   store.FailNext(FakeSchedulerStore::Method::kStartRun, 2, absl::UnavailableError("down"));
//   TaskEngine engine(options, &store, backends, &clock, &jitter, &events);
//   ...
//   EXPECT_EQ(store.GetStoredRun(run_id)->state(), v1::RUN_STATE_SUCCEEDED);
//
// Answers come synchronously, on the calling thread, before the call returns
// (the default), or from a thread of the store's own. Thread-safe.
#ifndef COFFER_TESTS_SERVICES_SCHEDULER_ENGINE_FAKE_SCHEDULER_STORE_H_
#define COFFER_TESTS_SERVICES_SCHEDULER_ENGINE_FAKE_SCHEDULER_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"

#include "coffer/v1/storage.pb.h"
#include "services/scheduler/engine/scheduler_store.h"
#include "services/scheduler/lease/waitable_clock.h"

namespace coffer::scheduler {

class FakeSchedulerStore : public SchedulerStore {
 public:
  enum class Method {
    kCreateTask,
    kGetTask,
    kListTasks,
    kUpdateTask,
    kDeleteTask,
    kStartRun,
    kFinishRun,
    kGetRun,
    kListRuns,
    kAbandonRuns,
  };
  enum class Answering { kSynchronously, kOnOwnThread };

  // `clock` must outlive the store.
  explicit FakeSchedulerStore(const WaitableClock* clock,
                              Answering answering = Answering::kSynchronously);
  // Answers what is still queued (kOnOwnThread) and joins.
  ~FakeSchedulerStore() override;

  // The lease fenced writes must match (name, holder and epoch, as storage's
  // CheckFence); a newer grant makes older fences stale. Unset: every fenced
  // write is refused FAILED_PRECONDITION ("not held").
  void SetLease(const v1::Fence& current);
  // The next `count` calls of `method`, after `after` more that succeed,
  // answer `status` and change nothing.
  void FailNext(Method method, int count, absl::Status status, int after = 0);

  // Stored as given, as if written earlier (revision 1 and created_at now
  // when unset).
  void PutTask(v1::Task task);
  void PutRun(v1::Run run);
  std::optional<v1::Task> GetStoredTask(const std::string& task_id) const;
  std::optional<v1::Run> GetStoredRun(const std::string& run_id) const;
  // Every run of `task_id` (empty: every run), newest started first.
  std::vector<v1::Run> StoredRuns(const std::string& task_id = "") const;
  std::vector<std::string> StoredTaskIds() const;

  // Calls made and their requests, failed ones included.
  int calls(Method method) const;
  std::vector<v1::StartRunRequest> start_run_requests() const;
  std::vector<v1::FinishRunRequest> finish_run_requests() const;
  std::vector<v1::CreateTaskDefinitionRequest> create_task_requests() const;
  std::vector<v1::UpdateTaskDefinitionRequest> update_task_requests() const;
  std::vector<v1::AbandonRunsRequest> abandon_runs_requests() const;

  void CreateTask(const v1::CreateTaskDefinitionRequest& request,
                  Answer<v1::CreateTaskDefinitionResponse> done) override;
  void GetTask(const v1::GetTaskDefinitionRequest& request,
               Answer<v1::GetTaskDefinitionResponse> done) override;
  void ListTasks(const v1::ListTaskDefinitionsRequest& request,
                 Answer<v1::ListTaskDefinitionsResponse> done) override;
  void UpdateTask(const v1::UpdateTaskDefinitionRequest& request,
                  Answer<v1::UpdateTaskDefinitionResponse> done) override;
  void DeleteTask(const v1::DeleteTaskDefinitionRequest& request,
                  Answer<v1::DeleteTaskDefinitionResponse> done) override;
  void StartRun(const v1::StartRunRequest& request, Answer<v1::StartRunResponse> done) override;
  void FinishRun(const v1::FinishRunRequest& request, Answer<v1::FinishRunResponse> done) override;
  void GetRun(const v1::GetRunRecordRequest& request,
              Answer<v1::GetRunRecordResponse> done) override;
  void ListRuns(const v1::ListRunRecordsRequest& request,
                Answer<v1::ListRunRecordsResponse> done) override;
  void AbandonRuns(const v1::AbandonRunsRequest& request,
                   Answer<v1::AbandonRunsResponse> done) override;

 private:
  // Counts the call; true when an injected failure is due, `failure` set.
  bool Called(Method method, absl::Status* failure) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckFence(const v1::Fence& fence) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Task definitions may carry no fence at all.
  absl::Status CheckOptionalFence(const v1::Fence& fence) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasRunningRun(const std::string& task_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyRetention(const v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<v1::CreateTaskDefinitionResponse> DoCreateTask(
      const v1::CreateTaskDefinitionRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::ListTaskDefinitionsResponse> DoListTasks(
      const v1::ListTaskDefinitionsRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::UpdateTaskDefinitionResponse> DoUpdateTask(
      const v1::UpdateTaskDefinitionRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::DeleteTaskDefinitionResponse> DoDeleteTask(
      const v1::DeleteTaskDefinitionRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::StartRunResponse> DoStartRun(const v1::StartRunRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::FinishRunResponse> DoFinishRun(const v1::FinishRunRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::ListRunRecordsResponse> DoListRuns(const v1::ListRunRecordsRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::AbandonRunsResponse> DoAbandonRuns(const v1::AbandonRunsRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Runs `method`'s store logic under the lock, then answers outside it.
  template <typename Reply, typename Body>
  void Serve(Method method, Answer<Reply> done, Body body);
  void Deliver(absl::AnyInvocable<void() &&> answer);
  void AnswerLoop();

  const WaitableClock* const clock_;
  const Answering answering_;

  mutable std::mutex mu_;
  std::optional<v1::Fence> lease_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Run> runs_ ABSL_GUARDED_BY(mu_);
  // Per call to come: the failure to answer, OK for none.
  std::map<Method, std::deque<absl::Status>> failures_ ABSL_GUARDED_BY(mu_);
  std::map<Method, int> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::StartRunRequest> start_run_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FinishRunRequest> finish_run_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::CreateTaskDefinitionRequest> create_task_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::UpdateTaskDefinitionRequest> update_task_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::AbandonRunsRequest> abandon_runs_requests_ ABSL_GUARDED_BY(mu_);
  uint64_t generated_ids_ ABSL_GUARDED_BY(mu_) = 0;

  // kOnOwnThread: answers waiting for the answering thread.
  std::mutex answers_mu_;
  std::condition_variable answers_cv_;
  std::deque<absl::AnyInvocable<void() &&>> answers_ ABSL_GUARDED_BY(answers_mu_);
  bool stopping_ ABSL_GUARDED_BY(answers_mu_) = false;
  std::thread answer_thread_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_TESTS_SERVICES_SCHEDULER_ENGINE_FAKE_SCHEDULER_STORE_H_
