// What the task engine keeps in storage: task definitions and run records
// (the scheduler itself holds nothing a restart would lose), as an
// interface so the engine can be tested with a fake, and its implementation
// over coffer's async gRPC client. Every call answers exactly once, on any
// thread; callbacks must not block.
#ifndef COFFER_SERVICES_SCHEDULER_ENGINE_SCHEDULER_STORE_H_
#define COFFER_SERVICES_SCHEDULER_ENGINE_SCHEDULER_STORE_H_

#include "absl/time/time.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "services/scheduler/runs/run_backends.h"

namespace coffer::scheduler {

class SchedulerStore {
 public:
  virtual ~SchedulerStore() = default;

  virtual void CreateTask(const v1::CreateTaskDefinitionRequest& request,
                          Answer<v1::CreateTaskDefinitionResponse> done) = 0;
  virtual void GetTask(const v1::GetTaskDefinitionRequest& request,
                       Answer<v1::GetTaskDefinitionResponse> done) = 0;
  virtual void ListTasks(const v1::ListTaskDefinitionsRequest& request,
                         Answer<v1::ListTaskDefinitionsResponse> done) = 0;
  virtual void UpdateTask(const v1::UpdateTaskDefinitionRequest& request,
                          Answer<v1::UpdateTaskDefinitionResponse> done) = 0;
  virtual void DeleteTask(const v1::DeleteTaskDefinitionRequest& request,
                          Answer<v1::DeleteTaskDefinitionResponse> done) = 0;

  virtual void StartRun(const v1::StartRunRequest& request, Answer<v1::StartRunResponse> done) = 0;
  virtual void FinishRun(const v1::FinishRunRequest& request,
                         Answer<v1::FinishRunResponse> done) = 0;
  virtual void GetRun(const v1::GetRunRecordRequest& request,
                      Answer<v1::GetRunRecordResponse> done) = 0;
  virtual void ListRuns(const v1::ListRunRecordsRequest& request,
                        Answer<v1::ListRunRecordsResponse> done) = 0;
  virtual void AbandonRuns(const v1::AbandonRunsRequest& request,
                           Answer<v1::AbandonRunsResponse> done) = 0;
};

class GrpcSchedulerStore : public SchedulerStore {
 public:
  // `client` must outlive this object and every call made through it.
  GrpcSchedulerStore(grpc_util::AsyncClient<v1::Storage>* client, absl::Duration timeout)
      : client_(client), timeout_(timeout) {}

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
  // One unary call with this store's deadline.
  template <typename Request, typename Reply>
  void Call(
      typename grpc_util::AsyncClient<v1::Storage>::template UnaryPrepare<Request, Reply> prepare,
      const Request& request, Answer<Reply> done) {
    client_->Call(prepare, request, std::move(done), {.timeout = timeout_});
  }

  grpc_util::AsyncClient<v1::Storage>* const client_;
  const absl::Duration timeout_;
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_ENGINE_SCHEDULER_STORE_H_
