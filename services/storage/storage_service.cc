#include "services/storage/storage_service.h"

#include <memory>
#include <string>
#include <utility>

#include "services/storage/prune_runner.h"
#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/history_repo.h"
#include "services/storage/repos/leases_repo.h"
#include "services/storage/repos/portfolio_repo.h"
#include "services/storage/repos/prices_repo.h"
#include "services/storage/repos/runs_repo.h"
#include "services/storage/repos/snapshot_parts_repo.h"
#include "services/storage/repos/snapshot_reads_repo.h"
#include "services/storage/repos/snapshots_repo.h"
#include "services/storage/repos/tasks_repo.h"

namespace coffer::storage {

using grpc_util::CallContext;
using grpc_util::Done;

namespace internal {

std::string StorageMethodName(const char* method) {
  return std::string("/") + v1::Storage::service_full_name() + "/" + method;
}

}  // namespace internal

namespace {

// Until the database is open (startup) or while a rekey swaps its pool.
absl::Status NotOpen() { return absl::UnavailableError("storage: database not open; retry"); }

}  // namespace

// One line per method: the repository function of the same name does the
// work (see the header).
#define COFFER_STORAGE_WRITE(Method) \
  Serve<db::WriteContext>(server, #Method, &AsyncApi::Request##Method, &Method)
#define COFFER_STORAGE_READ(Method) \
  Serve<db::ReadContext>(server, #Method, &AsyncApi::Request##Method, &Method)

void StorageService::Register(grpc_util::AsyncServer& server) {
  server.RegisterService(&async_api_);
  COFFER_STORAGE_WRITE(AddAccounts);
  COFFER_STORAGE_WRITE(RemoveAccounts);
  COFFER_STORAGE_READ(ListAccounts);

  COFFER_GRPC_UNARY(server, async_api_, v1::Storage, WriteSnapshot, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Storage, WriteSnapshotPart, this);
  COFFER_STORAGE_READ(ListSnapshots);
  COFFER_STORAGE_READ(GetSnapshot);
  COFFER_STORAGE_READ(GetLatestBalances);
  COFFER_STORAGE_READ(GetBalanceHistory);
  COFFER_STORAGE_READ(GetPortfolio);

  COFFER_STORAGE_WRITE(WritePrices);
  COFFER_STORAGE_READ(GetLatestPrices);
  COFFER_STORAGE_READ(GetPriceHistory);

  COFFER_STORAGE_WRITE(CreateTaskDefinition);
  COFFER_STORAGE_READ(GetTaskDefinition);
  COFFER_STORAGE_READ(ListTaskDefinitions);
  COFFER_STORAGE_WRITE(UpdateTaskDefinition);
  COFFER_STORAGE_WRITE(DeleteTaskDefinition);

  COFFER_STORAGE_WRITE(StartRun);
  COFFER_STORAGE_WRITE(FinishRun);
  COFFER_STORAGE_READ(GetRunRecord);
  COFFER_STORAGE_READ(ListRunRecords);
  COFFER_STORAGE_WRITE(AbandonRuns);

  COFFER_STORAGE_WRITE(AcquireLease);
  COFFER_STORAGE_WRITE(RenewLease);
  COFFER_STORAGE_WRITE(ReleaseLease);
  COFFER_STORAGE_READ(GetLease);

  // Maintenance: Backup and Rekey on the maintenance thread, Prune as a
  // chain of small writes (prune_runner.h).
  COFFER_GRPC_SERVER_STREAMING(server, async_api_, v1::Storage, Backup, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Storage, Rekey, this);
  COFFER_GRPC_UNARY(server, async_api_, v1::Storage, Prune, this);
}
#undef COFFER_STORAGE_WRITE
#undef COFFER_STORAGE_READ

std::shared_ptr<db::ConnectionPool> StorageService::PoolOrAnswer(Done& done) {
  Database* database = database_.load(std::memory_order_acquire);
  std::shared_ptr<db::ConnectionPool> pool = database != nullptr ? database->pool() : nullptr;
  if (pool == nullptr) done(NotOpen());
  return pool;
}

void StorageService::HandleBackup(CallContext& context, const v1::BackupRequest& request,
                                  grpc_util::ServerWriter<v1::BackupResponse> writer) {
  Maintenance* maintenance = maintenance_.load(std::memory_order_acquire);
  if (maintenance == nullptr) {
    writer.Finish(NotOpen());
    return;
  }
  // Kept by both callbacks; they run one after the other on the
  // maintenance thread.
  auto shared_writer =
      std::make_shared<grpc_util::ServerWriter<v1::BackupResponse>>(std::move(writer));
  maintenance->Backup(
      request,
      [shared_writer, &context](const v1::BackupResponse& message) {
        return !context.IsCancelled() && shared_writer->Write(message);
      },
      [shared_writer](absl::Status status) { shared_writer->Finish(std::move(status)); });
}

template <typename Request, typename Reply, typename Prepare, typename WriteFn>
void StorageService::PrepareThenWrite(const Request& request, Reply* reply, Done done,
                                      Prepare prepare, WriteFn write) {
  std::shared_ptr<db::ConnectionPool> pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  auto run = [&request, reply, pool = std::move(pool), done = std::move(done), prepare,
              write]() mutable {
    auto prepared = prepare(request);
    if (!prepared.ok()) {
      done(prepared.status());
      return;
    }
    // The prepared request travels with the write; it refers to the
    // request, which lives as long as the call's Done.
    pool->Write([prepared = *std::move(prepared), reply,
                 write](db::WriteContext& tx) { return write(tx, prepared, reply, absl::Now()); },
                std::move(done));
  };
  auto task = std::make_shared<decltype(run)>(std::move(run));
  if (!prepare_threads_.Submit([task]() mutable { (*task)(); })) {
    // Only while the service is being torn down.
    (*task)();
  }
}

void StorageService::HandleWriteSnapshot(CallContext& /*context*/,
                                         const v1::WriteSnapshotRequest& request,
                                         v1::WriteSnapshotResponse* reply, Done done) {
  PrepareThenWrite(
      request, reply, std::move(done), &PrepareSnapshot,
      [](db::WriteContext& tx, const PreparedSnapshot& prepared, v1::WriteSnapshotResponse* reply,
         absl::Time now) { return WriteSnapshot(tx, prepared, reply, now); });
}

void StorageService::HandleWriteSnapshotPart(CallContext& /*context*/,
                                             const v1::WriteSnapshotPartRequest& request,
                                             v1::WriteSnapshotPartResponse* reply, Done done) {
  PrepareThenWrite(request, reply, std::move(done), &PrepareSnapshotPart,
                   [](db::WriteContext& tx, const PreparedSnapshotPart& prepared,
                      v1::WriteSnapshotPartResponse* reply,
                      absl::Time now) { return WriteSnapshotPart(tx, prepared, reply, now); });
}

void StorageService::HandlePrune(CallContext& /*context*/, const v1::PruneRequest& request,
                                 v1::PruneResponse* reply, Done done) {
  std::shared_ptr<db::ConnectionPool> pool = PoolOrAnswer(done);
  if (pool == nullptr) return;
  RunPrune(std::move(pool), request, reply, std::move(done));
}

void StorageService::HandleRekey(CallContext& /*context*/, const v1::RekeyRequest& request,
                                 v1::RekeyResponse* reply, Done done) {
  Maintenance* maintenance = maintenance_.load(std::memory_order_acquire);
  if (maintenance == nullptr) {
    done(NotOpen());
    return;
  }
  maintenance->Rekey(request, reply, std::move(done));
}

}  // namespace coffer::storage
