#include "services/storage/storage_service.h"

#include <string>
#include <utility>

#include "absl/time/clock.h"

#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/history_repo.h"
#include "services/storage/repos/prices_repo.h"
#include "services/storage/repos/snapshots_repo.h"

namespace coffer::storage {

using grpc_util::CallContext;
using grpc_util::Done;

namespace {

// The pool's completion callback, answering the call from the pool's thread.
db::ConnectionPool::Done Answer(Done done) {
  return [done = std::move(done)](absl::Status status) mutable { done(std::move(status)); };
}

std::string MethodName(const char* method) {
  return std::string("/") + v1::Storage::service_full_name() + "/" + method;
}

}  // namespace

void StorageService::Register(grpc_util::AsyncServer& server) {
  server.RegisterService(&async_api_);
  // The request and reply live in the call object for as long as its Done
  // does, and the Done travels with the pool's callback, so the work below
  // may refer to them.
  server.AddUnary(MethodName("AddAccounts"), &async_api_, &AsyncApi::RequestAddAccounts,
                  [this](CallContext& context, const v1::AddAccountsRequest& request,
                         v1::AddAccountsResponse* reply, Done done) {
                    HandleAddAccounts(context, request, reply, std::move(done));
                  });
  server.AddUnary(MethodName("RemoveAccounts"), &async_api_, &AsyncApi::RequestRemoveAccounts,
                  [this](CallContext& context, const v1::RemoveAccountsRequest& request,
                         v1::RemoveAccountsResponse* reply, Done done) {
                    HandleRemoveAccounts(context, request, reply, std::move(done));
                  });
  server.AddUnary(MethodName("ListAccounts"), &async_api_, &AsyncApi::RequestListAccounts,
                  [this](CallContext& context, const v1::ListAccountsRequest& request,
                         v1::ListAccountsResponse* reply, Done done) {
                    HandleListAccounts(context, request, reply, std::move(done));
                  });
  server.AddUnary(MethodName("WriteSnapshot"), &async_api_, &AsyncApi::RequestWriteSnapshot,
                  [this](CallContext& context, const v1::WriteSnapshotRequest& request,
                         v1::WriteSnapshotResponse* reply, Done done) {
                    HandleWriteSnapshot(context, request, reply, std::move(done));
                  });
  server.AddUnary(MethodName("GetLatestBalances"), &async_api_, &AsyncApi::RequestGetLatestBalances,
                  [this](CallContext& context, const v1::GetLatestBalancesRequest& request,
                         v1::GetLatestBalancesResponse* reply, Done done) {
                    HandleGetLatestBalances(context, request, reply, std::move(done));
                  });
  server.AddUnary(MethodName("GetBalanceHistory"), &async_api_, &AsyncApi::RequestGetBalanceHistory,
                  [this](CallContext& context, const v1::GetBalanceHistoryRequest& request,
                         v1::GetBalanceHistoryResponse* reply, Done done) {
                    HandleGetBalanceHistory(context, request, reply, std::move(done));
                  });
  server.AddUnary(MethodName("WritePrices"), &async_api_, &AsyncApi::RequestWritePrices,
                  [this](CallContext& context, const v1::WritePricesRequest& request,
                         v1::WritePricesResponse* reply, Done done) {
                    HandleWritePrices(context, request, reply, std::move(done));
                  });
  server.AddUnary(MethodName("GetLatestPrices"), &async_api_, &AsyncApi::RequestGetLatestPrices,
                  [this](CallContext& context, const v1::GetLatestPricesRequest& request,
                         v1::GetLatestPricesResponse* reply, Done done) {
                    HandleGetLatestPrices(context, request, reply, std::move(done));
                  });
}

db::ConnectionPool* StorageService::PoolOrAnswer(Done& done) {
  db::ConnectionPool* pool = pool_.load(std::memory_order_acquire);
  if (pool == nullptr) done(absl::UnavailableError("storage: database not open yet; retry"));
  return pool;
}

void StorageService::HandleAddAccounts(CallContext& /*context*/,
                                       const v1::AddAccountsRequest& request,
                                       v1::AddAccountsResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  pool->Write([&request, reply](
                  db::WriteContext& tx) { return AddAccounts(tx, request, reply, absl::Now()); },
              Answer(std::move(done)));
}

void StorageService::HandleRemoveAccounts(CallContext& /*context*/,
                                          const v1::RemoveAccountsRequest& request,
                                          v1::RemoveAccountsResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  pool->Write(
      [&request, reply](db::WriteContext& tx) { return RemoveAccounts(tx, request, reply); },
      Answer(std::move(done)));
}

void StorageService::HandleListAccounts(CallContext& /*context*/,
                                        const v1::ListAccountsRequest& request,
                                        v1::ListAccountsResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  pool->Read([&request, reply](db::ReadContext& tx) { return ListAccounts(tx, request, reply); },
             Answer(std::move(done)));
}

void StorageService::HandleWriteSnapshot(CallContext& /*context*/,
                                         const v1::WriteSnapshotRequest& request,
                                         v1::WriteSnapshotResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  // One snapshot is one write: it commits whole (in the writer's group
  // commit) or not at all, and the caller hears back only after the commit.
  pool->Write([&request, reply](
                  db::WriteContext& tx) { return WriteSnapshot(tx, request, reply, absl::Now()); },
              Answer(std::move(done)));
}

void StorageService::HandleGetLatestBalances(CallContext& /*context*/,
                                             const v1::GetLatestBalancesRequest& request,
                                             v1::GetLatestBalancesResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  pool->Read(
      [&request, reply](db::ReadContext& tx) {
        return GetLatestBalances(tx, request, reply, absl::Now());
      },
      Answer(std::move(done)));
}

void StorageService::HandleGetBalanceHistory(CallContext& /*context*/,
                                             const v1::GetBalanceHistoryRequest& request,
                                             v1::GetBalanceHistoryResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  pool->Read(
      [&request, reply](db::ReadContext& tx) { return GetBalanceHistory(tx, request, reply); },
      Answer(std::move(done)));
}

void StorageService::HandleWritePrices(CallContext& /*context*/,
                                       const v1::WritePricesRequest& request,
                                       v1::WritePricesResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  pool->Write([&request, reply](
                  db::WriteContext& tx) { return WritePrices(tx, request, reply, absl::Now()); },
              Answer(std::move(done)));
}

void StorageService::HandleGetLatestPrices(CallContext& /*context*/,
                                           const v1::GetLatestPricesRequest& request,
                                           v1::GetLatestPricesResponse* reply, Done done) {
  db::ConnectionPool* pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  pool->Read([&request, reply](
                 db::ReadContext& tx) { return GetLatestPrices(tx, request, reply, absl::Now()); },
             Answer(std::move(done)));
}

}  // namespace coffer::storage
