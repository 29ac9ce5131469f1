#include "services/scheduler/engine/scheduler_store.h"

#include <utility>

namespace coffer::scheduler {

using Stub = v1::Storage::Stub;

void GrpcSchedulerStore::CreateTask(const v1::CreateTaskDefinitionRequest& request,
                                    Answer<v1::CreateTaskDefinitionResponse> done) {
  Call(&Stub::PrepareAsyncCreateTaskDefinition, request, std::move(done));
}

void GrpcSchedulerStore::GetTask(const v1::GetTaskDefinitionRequest& request,
                                 Answer<v1::GetTaskDefinitionResponse> done) {
  Call(&Stub::PrepareAsyncGetTaskDefinition, request, std::move(done));
}

void GrpcSchedulerStore::ListTasks(const v1::ListTaskDefinitionsRequest& request,
                                   Answer<v1::ListTaskDefinitionsResponse> done) {
  Call(&Stub::PrepareAsyncListTaskDefinitions, request, std::move(done));
}

void GrpcSchedulerStore::UpdateTask(const v1::UpdateTaskDefinitionRequest& request,
                                    Answer<v1::UpdateTaskDefinitionResponse> done) {
  Call(&Stub::PrepareAsyncUpdateTaskDefinition, request, std::move(done));
}

void GrpcSchedulerStore::DeleteTask(const v1::DeleteTaskDefinitionRequest& request,
                                    Answer<v1::DeleteTaskDefinitionResponse> done) {
  Call(&Stub::PrepareAsyncDeleteTaskDefinition, request, std::move(done));
}

void GrpcSchedulerStore::StartRun(const v1::StartRunRequest& request,
                                  Answer<v1::StartRunResponse> done) {
  Call(&Stub::PrepareAsyncStartRun, request, std::move(done));
}

void GrpcSchedulerStore::FinishRun(const v1::FinishRunRequest& request,
                                   Answer<v1::FinishRunResponse> done) {
  Call(&Stub::PrepareAsyncFinishRun, request, std::move(done));
}

void GrpcSchedulerStore::GetRun(const v1::GetRunRecordRequest& request,
                                Answer<v1::GetRunRecordResponse> done) {
  Call(&Stub::PrepareAsyncGetRunRecord, request, std::move(done));
}

void GrpcSchedulerStore::ListRuns(const v1::ListRunRecordsRequest& request,
                                  Answer<v1::ListRunRecordsResponse> done) {
  Call(&Stub::PrepareAsyncListRunRecords, request, std::move(done));
}

void GrpcSchedulerStore::AbandonRuns(const v1::AbandonRunsRequest& request,
                                     Answer<v1::AbandonRunsResponse> done) {
  Call(&Stub::PrepareAsyncAbandonRuns, request, std::move(done));
}

}  // namespace coffer::scheduler
