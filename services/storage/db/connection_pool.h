#ifndef COFFER_SERVICES_STORAGE_DB_CONNECTION_POOL_H_
#define COFFER_SERVICES_STORAGE_DB_CONNECTION_POOL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "common/metrics/counter.h"
#include "common/metrics/gauge.h"
#include "common/metrics/histogram.h"
#include "services/storage/db/connection.h"
#include "services/storage/db/secret.h"

namespace coffer::storage::db {

// What a Read's work may do: run queries on a reader's connection, inside one
// read transaction (every query sees the same committed state). The
// connection is read-only; writing through it fails.
class ReadContext {
 public:
  explicit ReadContext(Connection& connection) : connection_(&connection) {}
  [[nodiscard]] absl::StatusOr<CachedStatement> Prepare(absl::string_view sql) {
    return connection_->Prepare(sql);
  }
  Connection& connection() { return *connection_; }

 private:
  Connection* connection_;
};

// What a Write's work may do: run statements on the writer's connection,
// inside a savepoint of the batch's transaction. Returning an error undoes
// everything this work did (and nothing of the other writes in the batch).
// The work must not BEGIN, COMMIT or ROLLBACK itself (savepoints of its own
// are fine): ending the batch's transaction fails the whole batch.
class WriteContext {
 public:
  explicit WriteContext(Connection& connection) : connection_(&connection) {}
  [[nodiscard]] absl::StatusOr<CachedStatement> Prepare(absl::string_view sql) {
    return connection_->Prepare(sql);
  }
  [[nodiscard]] absl::Status Execute(absl::string_view sql) { return connection_->Execute(sql); }
  Connection& connection() { return *connection_; }

 private:
  Connection* connection_;
};

struct ConnectionPoolOptions {
  std::string path;
  // Reader threads, each with its own read-only connection (at least one).
  int readers = 4;
  // Most writes committed in one transaction.
  int max_batch = 128;
  // Passed to every connection (read_only and create are set per role).
  OpenOptions open;
};

// Counts since the pool was opened, for tests and the admin API.
struct ConnectionPoolStats {
  // Write transactions begun (one per batch).
  uint64_t transactions = 0;
  // Writes run, whatever their outcome (a write run again with a savepoint
  // after another failed counts once).
  uint64_t writes = 0;
  // Batches whose COMMIT (or BEGIN) failed, failing all their writes.
  uint64_t failed_batches = 0;
  // Batches run again with a savepoint per write because one write failed.
  uint64_t savepoint_reruns = 0;
};

// The storage service's only way to its database: one writer thread that
// owns the one read-write connection, and reader threads that each own a
// read-only connection. WAL lets readers proceed while the writer writes.
//
//   ConnectionPoolOptions options;
//   options.path = "data/coffer.db";
//   ASSIGN_OR_RETURN(std::unique_ptr<ConnectionPool> pool, ConnectionPool::Open(options, key));
//   pool->Write(
//       [account](WriteContext& tx) -> absl::Status {
//         ASSIGN_OR_RETURN(CachedStatement st, tx.Prepare("INSERT INTO accounts (id) VALUES
//         (?1)")); RETURN_IF_ERROR(st->Bind(1, account)); return st->Run();
//       },
//       [done = std::move(rpc_done)](absl::Status status) mutable { done(status); });
//
// Group commit. Writes queue up while the writer is busy; the writer then
// takes everything queued (up to max_batch) and runs it in ONE transaction.
// It first runs the works one after another with nothing between them: no
// savepoints, because under SQLCipher a savepoint costs an encrypted copy
// of every page its write changes (a quarter of a snapshot write's time,
// tools/bench/storage). Only when a work fails, which is rare (a conflict,
// a stale fence), is that transaction rolled back and the batch run again
// with each write inside its own SAVEPOINT, so the failed write is rolled
// back to its savepoint and told its own error while the others go on.
// After the single COMMIT has returned, every write's `done` is called with
// its own outcome; when COMMIT fails, every write of the batch is told that
// error. Nothing is acknowledged before its commit returned. Under load one
// commit (and, with sync_every_commit, one fsync) serves many writes.
//
// So a write's `work` may run more than once (each time in a transaction
// that does not yet hold its earlier run's changes): it must produce its
// reply from scratch each run and have no effect outside the transaction.
//
// Threads: `work` and `done` run on the pool's threads (a reader's for
// Read, the writer's for Write), one at a time per thread; they may block
// on the database, but a slow `done` delays the next batch, so `done`
// should hand off (e.g. finish a gRPC call) and return. Read and Write are
// thread-safe and never block on the database. Work and done must not throw.
//
// Lifecycle: Shutdown (or the destructor) runs everything already queued,
// then closes the connections and joins the threads; work submitted after
// Shutdown began is not run and its `done` is called at once, on the
// caller's thread, with UNAVAILABLE.
class ConnectionPool {
 public:
  using ReadWork = absl::AnyInvocable<absl::Status(ReadContext&)>;
  using WriteWork = absl::AnyInvocable<absl::Status(WriteContext&)>;
  using Done = absl::AnyInvocable<void(absl::Status)>;

  // Opens the writer connection first (creating the file and switching it to
  // WAL), then the readers, and starts the threads. Fails, with no thread
  // started, if any connection fails to open (a wrong key among them).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ConnectionPool>> Open(
      const ConnectionPoolOptions& options, const SecretString& key);

  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs `work` on a reader thread inside BEGIN … COMMIT, then calls `done`
  // with its status (or the transaction's error) on that thread.
  void Read(ReadWork work, Done done);

  // Queues `work` for the writer's next group commit; calls `done` on the
  // writer thread once the outcome is durable (see the class comment).
  void Write(WriteWork work, Done done);

  // Blocking forms, for startup, tools and tests: they wait for the pool's
  // thread. Never call them from a gRPC polling thread or from a pool
  // thread (the latter would deadlock, and aborts the process instead).
  [[nodiscard]] absl::Status ReadSync(ReadWork work);
  [[nodiscard]] absl::Status WriteSync(WriteWork work);

  // Stops accepting work, finishes everything queued and joins all threads.
  // Idempotent and thread-safe. Must not be called from a pool thread.
  void Shutdown();

  ConnectionPoolStats stats() const;
  const std::string& path() const { return path_; }

 private:
  struct ReadItem {
    ReadWork work;
    Done done;
    std::chrono::steady_clock::time_point queued;
  };
  struct WriteItem {
    WriteWork work;
    Done done;
    std::chrono::steady_clock::time_point queued;
  };

  ConnectionPool(const ConnectionPoolOptions& options, std::unique_ptr<Connection> writer,
                 std::vector<std::unique_ptr<Connection>> readers);

  void RunReader(Connection* connection, int index);
  void RunWriter();
  // Runs one batch in one transaction and calls every done.
  void CommitBatch(std::vector<WriteItem>& batch);
  // Runs every write of the batch in the open transaction, without
  // savepoints, appending each outcome. Returns false as soon as one fails
  // (the transaction then holds part of that write); sets `batch_error`
  // when the transaction can no longer commit.
  bool RunWithoutSavepoints(std::vector<WriteItem>& batch, std::vector<absl::Status>& outcomes,
                            absl::Status& batch_error);
  // Runs one write in its own savepoint; returns its outcome. Sets
  // `batch_error` when the batch's transaction can no longer commit.
  absl::Status RunInSavepoint(WriteItem& item, absl::Status& batch_error);
  // Runs `item.work` in the open transaction; sets `batch_error` when the
  // work ended the transaction.
  absl::Status RunWork(WriteItem& item, absl::Status& batch_error);
  void CheckNotOnPoolThread(const char* what) const;
  // Adds the writer connection's page reads and writes since the last call
  // to the metrics. Writer thread only.
  void CountPages();

  const std::string path_;
  const size_t max_batch_;
  std::unique_ptr<Connection> writer_connection_;
  std::vector<std::unique_ptr<Connection>> reader_connections_;

  metrics::Gauge& read_queue_depth_;
  metrics::Gauge& write_queue_depth_;
  metrics::Histogram& batch_size_;
  metrics::Histogram& read_latency_;
  metrics::Histogram& write_latency_;
  metrics::Histogram& commit_latency_;
  metrics::Counter& transactions_counter_;
  metrics::Counter& failed_commits_counter_;
  metrics::Counter& savepoint_reruns_counter_;
  metrics::Counter& pages_written_counter_;
  metrics::Counter& pages_read_counter_;

  mutable std::mutex mu_;
  std::condition_variable read_available_;
  std::condition_variable write_available_;
  std::deque<ReadItem> read_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<WriteItem> write_queue_ ABSL_GUARDED_BY(mu_);
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  ConnectionPoolStats stats_ ABSL_GUARDED_BY(mu_);

  // Separate from mu_ so that the threads keep draining while Shutdown
  // holds it and joins them.
  std::mutex join_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_CONNECTION_POOL_H_
