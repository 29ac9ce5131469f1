#include "services/scheduler/runs/grpc_run_backends.h"

#include <utility>

namespace coffer::scheduler {

void GrpcRunStorage::ListAccounts(const v1::ListAccountsRequest& request,
                                  Answer<v1::ListAccountsResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncListAccounts, request, std::move(done),
                {.timeout = timeout_});
}

void GrpcRunStorage::WriteSnapshot(const v1::WriteSnapshotRequest& request,
                                   Answer<v1::WriteSnapshotResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncWriteSnapshot, request, std::move(done),
                {.timeout = timeout_});
}

void GrpcRunStorage::WriteSnapshotPart(const v1::WriteSnapshotPartRequest& request,
                                       Answer<v1::WriteSnapshotPartResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncWriteSnapshotPart, request, std::move(done),
                {.timeout = timeout_});
}

void GrpcRunStorage::GetPortfolio(const v1::GetPortfolioRequest& request,
                                  Answer<v1::GetPortfolioResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncGetPortfolio, request, std::move(done),
                {.timeout = timeout_});
}

void GrpcRunStorage::WritePrices(const v1::WritePricesRequest& request,
                                 Answer<v1::WritePricesResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncWritePrices, request, std::move(done),
                {.timeout = timeout_});
}

void GrpcRunStorage::Prune(const v1::PruneRequest& request, Answer<v1::PruneResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncPrune, request, std::move(done),
                {.timeout = timeout_});
}

absl::AnyInvocable<void()> GrpcRunStorage::Backup(
    const v1::BackupRequest& request,
    absl::AnyInvocable<void(const v1::BackupResponse&)> on_message,
    absl::AnyInvocable<void(absl::Status) &&> done) {
  grpc_util::CallOptions options;
  options.timeout = absl::Hours(24);  // the run timeout (at most 24 h) cancels it first
  grpc_util::CallHandle stream = client_->Stream(&v1::Storage::Stub::PrepareAsyncBackup, request,
                                                 std::move(on_message), std::move(done), options);
  return [stream]() mutable { stream.Cancel(); };
}

CancelCall GrpcRunFetcher::ResolveBlocks(const v1::ResolveBlocksRequest& request,
                                         Answer<v1::ResolveBlocksResponse> done) {
  return
      [call = client_->Call(&v1::Fetcher::Stub::PrepareAsyncResolveBlocks, request, std::move(done),
                            {.timeout = timeout_})]() mutable { call.Cancel(); };
}

CancelCall GrpcRunFetcher::QueryBalances(const v1::QueryBalancesRequest& request,
                                         Answer<v1::QueryBalancesResponse> done) {
  return
      [call = client_->Call(&v1::Fetcher::Stub::PrepareAsyncQueryBalances, request, std::move(done),
                            {.timeout = timeout_})]() mutable { call.Cancel(); };
}

CancelCall GrpcRunFetcher::QueryPrices(const v1::QueryPricesRequest& request,
                                       Answer<v1::QueryPricesResponse> done) {
  return
      [call = client_->Call(&v1::Fetcher::Stub::PrepareAsyncQueryPrices, request, std::move(done),
                            {.timeout = timeout_})]() mutable { call.Cancel(); };
}

}  // namespace coffer::scheduler
