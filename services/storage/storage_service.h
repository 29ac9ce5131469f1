// coffer.v1.Storage on the async framework. Handlers never touch the
// database on a polling thread: they hand the work to the connection pool
// (reads to a reader thread, writes to the group-committing writer) and
// answer from the pool's thread once it is done.
//
// The methods that have landed are served asynchronously; the others stay
// on the generated base class, which answers UNIMPLEMENTED, until their
// handlers land.
#ifndef COFFER_SERVICES_STORAGE_STORAGE_SERVICE_H_
#define COFFER_SERVICES_STORAGE_STORAGE_SERVICE_H_

#include <atomic>

#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/async_server.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

class StorageService {
 public:
  // Nested from the outside in; each layer turns one method asynchronous.
  using AsyncApi = v1::Storage::WithAsyncMethod_AddAccounts<
      v1::Storage::WithAsyncMethod_RemoveAccounts<v1::Storage::WithAsyncMethod_ListAccounts<
          v1::Storage::WithAsyncMethod_WriteSnapshot<v1::Storage::WithAsyncMethod_GetLatestBalances<
              v1::Storage::WithAsyncMethod_GetBalanceHistory<
                  v1::Storage::WithAsyncMethod_WritePrices<
                      v1::Storage::WithAsyncMethod_GetLatestPrices<v1::Storage::Service>>>>>>>>;

  // Before server.Start().
  void Register(grpc_util::AsyncServer& server);

  // The pool opens after the server listens; until then calls are answered
  // UNAVAILABLE. `pool` must outlive the server's shutdown.
  void SetPool(db::ConnectionPool* pool) { pool_.store(pool, std::memory_order_release); }

  void HandleAddAccounts(grpc_util::CallContext& context, const v1::AddAccountsRequest& request,
                         v1::AddAccountsResponse* reply, grpc_util::Done done);
  void HandleRemoveAccounts(grpc_util::CallContext& context,
                            const v1::RemoveAccountsRequest& request,
                            v1::RemoveAccountsResponse* reply, grpc_util::Done done);
  void HandleWriteSnapshot(grpc_util::CallContext& context, const v1::WriteSnapshotRequest& request,
                           v1::WriteSnapshotResponse* reply, grpc_util::Done done);
  void HandleGetLatestBalances(grpc_util::CallContext& context,
                               const v1::GetLatestBalancesRequest& request,
                               v1::GetLatestBalancesResponse* reply, grpc_util::Done done);
  void HandleGetBalanceHistory(grpc_util::CallContext& context,
                               const v1::GetBalanceHistoryRequest& request,
                               v1::GetBalanceHistoryResponse* reply, grpc_util::Done done);
  void HandleWritePrices(grpc_util::CallContext& context, const v1::WritePricesRequest& request,
                         v1::WritePricesResponse* reply, grpc_util::Done done);
  void HandleGetLatestPrices(grpc_util::CallContext& context,
                             const v1::GetLatestPricesRequest& request,
                             v1::GetLatestPricesResponse* reply, grpc_util::Done done);
  void HandleListAccounts(grpc_util::CallContext& context, const v1::ListAccountsRequest& request,
                          v1::ListAccountsResponse* reply, grpc_util::Done done);

 private:
  // The pool, or null (and `done` answered UNAVAILABLE) while it is not open.
  db::ConnectionPool* PoolOrAnswer(grpc_util::Done& done);

  AsyncApi async_api_;
  std::atomic<db::ConnectionPool*> pool_{nullptr};
};

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_STORAGE_SERVICE_H_
