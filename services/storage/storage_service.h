// coffer.v1.Storage on the async framework. Handlers never touch the
// database on a polling thread: a data method hands its repository function
// to the connection pool (reads to a reader thread, writes to the
// group-committing writer) and the call is answered from the pool's thread
// once the work is done (for writes: committed). Backup and Rekey run on the
// maintenance thread (maintenance.h).
//
// Every method is one line in Register: the repository function named like
// the method (repos/*.h) does the work, with the signature
//   absl::Status Method(db::WriteContext&, const Request&, Reply*[, absl::Time now])
// for writes and the same with db::ReadContext for reads.
#ifndef COFFER_SERVICES_STORAGE_STORAGE_SERVICE_H_
#define COFFER_SERVICES_STORAGE_STORAGE_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/time/clock.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "common/exec/thread_pool.h"
#include "common/grpc/async_server.h"
#include "services/storage/database.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/maintenance.h"

namespace coffer::storage {

class StorageService {
 public:
  // Every method is served asynchronously.
  using AsyncApi = v1::Storage::AsyncService;

  // Before server.Start().
  void Register(grpc_util::AsyncServer& server);

  // The database opens after the server listens; until then calls are
  // answered UNAVAILABLE. Both must outlive the server's shutdown.
  void SetDatabase(Database* database, Maintenance* maintenance) {
    maintenance_.store(maintenance, std::memory_order_release);
    database_.store(database, std::memory_order_release);
  }

  void HandleBackup(grpc_util::CallContext& context, const v1::BackupRequest& request,
                    grpc_util::ServerWriter<v1::BackupResponse> writer);
  void HandleRekey(grpc_util::CallContext& context, const v1::RekeyRequest& request,
                   v1::RekeyResponse* reply, grpc_util::Done done);
  void HandlePrune(grpc_util::CallContext& context, const v1::PruneRequest& request,
                   v1::PruneResponse* reply, grpc_util::Done done);
  void HandleWriteSnapshot(grpc_util::CallContext& context, const v1::WriteSnapshotRequest& request,
                           v1::WriteSnapshotResponse* reply, grpc_util::Done done);
  void HandleWriteSnapshotPart(grpc_util::CallContext& context,
                               const v1::WriteSnapshotPartRequest& request,
                               v1::WriteSnapshotPartResponse* reply, grpc_util::Done done);

 private:
  template <typename Base, typename Request, typename Reply>
  using RequestMethod = void (Base::*)(grpc::ServerContext*, Request*,
                                       grpc::ServerAsyncResponseWriter<Reply>*,
                                       grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);

  // Serves a method with `repo` run as one pool Write (Tx db::WriteContext:
  // committed before the answer) or one Read (db::ReadContext: one
  // consistent read transaction).
  template <typename Tx, typename Base, typename Request, typename Reply, typename Repo>
  void Serve(grpc_util::AsyncServer& server, const char* method,
             RequestMethod<Base, Request, Reply> request, Repo repo);

  // The open pool, or null (and `done` answered UNAVAILABLE) while the
  // database is not open or a rekey is swapping the pool.
  std::shared_ptr<db::ConnectionPool> PoolOrAnswer(grpc_util::Done& done);

  // Serves a write in two halves: `prepare(request)`, the CPU-bound one
  // answering absl::StatusOr<Prepared>, on prepare_threads_, then
  // `write(tx, prepared, reply, now)` as one pool Write. Defined in the .cc,
  // the only place it is used.
  template <typename Request, typename Reply, typename Prepare, typename WriteFn>
  void PrepareThenWrite(const Request& request, Reply* reply, grpc_util::Done done, Prepare prepare,
                        WriteFn write);

  AsyncApi async_api_;
  // CPU-bound halves of writes (PrepareSnapshot, PrepareSnapshotPart), off
  // both the pollers and the single writer thread. Joined when the service
  // is destroyed, after the server has shut down.
  exec::ThreadPool prepare_threads_{"storage-prep", 2};
  std::atomic<Database*> database_{nullptr};
  std::atomic<Maintenance*> maintenance_{nullptr};
};

namespace internal {

std::string StorageMethodName(const char* method);

// Calls a repository function with storage's clock when it takes one.
template <typename Repo, typename Tx, typename Request, typename Reply>
absl::Status RunRepo(const Repo& repo, Tx& tx, const Request& request, Reply* reply) {
  if constexpr (std::is_invocable_v<const Repo&, Tx&, const Request&, Reply*, absl::Time>) {
    return repo(tx, request, reply, absl::Now());
  } else {
    return repo(tx, request, reply);
  }
}

}  // namespace internal

template <typename Tx, typename Base, typename Request, typename Reply, typename Repo>
void StorageService::Serve(grpc_util::AsyncServer& server, const char* method,
                           RequestMethod<Base, Request, Reply> request, Repo repo) {
  // The request and reply live in the call object for as long as its Done
  // does, and the Done travels with the pool's callback, so the work may
  // refer to them.
  server.AddUnary(internal::StorageMethodName(method), &async_api_, request,
                  [this, repo](grpc_util::CallContext&, const Request& request, Reply* reply,
                               grpc_util::Done done) {
                    std::shared_ptr<db::ConnectionPool> pool = PoolOrAnswer(done);
                    if (pool == nullptr) return;
                    auto work = [&request, reply, repo](Tx& tx) {
                      // A write's work may run twice (ConnectionPool): the
                      // reply starts empty each time.
                      reply->Clear();
                      return internal::RunRepo(repo, tx, request, reply);
                    };
                    if constexpr (std::is_same_v<Tx, db::WriteContext>) {
                      pool->Write(std::move(work), std::move(done));
                    } else {
                      pool->Read(std::move(work), std::move(done));
                    }
                  });
}

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_STORAGE_SERVICE_H_
