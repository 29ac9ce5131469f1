#ifndef COFFER_SERVICES_STORAGE_DB_CONNECTION_POOL_H_
#define COFFER_SERVICES_STORAGE_DB_CONNECTION_POOL_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

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
  // Work the writer does in its idle time, one step per transaction (see
  // "Idle work" in the class comment): the step answers whether more is
  // left, and an error undoes that step. Empty: none.
  std::function<absl::StatusOr<bool>(WriteContext&)> idle_work;
  // How long the writer must have had nothing to write before it starts a
  // step. Writes come in bursts (a refresh's WriteSnapshot, then the
  // scheduler's run updates a few ms later): 150 ms lets a burst finish
  // without steps between its writes (each would delay the write arriving
  // during it), while a merge of 10,000 pending items (ten steps of 3-20 ms,
  // services/storage/database.cc) still ends long before the next refresh,
  // seconds later. Much shorter, and the merge competes with the burst;
  // much longer, and pending items pile up toward the inline cap.
  absl::Duration idle_delay = absl::Milliseconds(150);
  // Checkpoint the WAL in the writer's idle time (after idle_work is done)
  // instead of inside the commit that crosses SQLite's 1,000-page mark. A
  // 10,000-item snapshot writes ~1,500 pages, so every such commit also
  // copied its pages into the database file and waited for two fsyncs:
  // ~30 ms of a ~140 ms WriteSnapshot (tools/bench/refresh). The writer's
  // wal_autocheckpoint is then raised to kIdleCheckpointFallbackPages, so a
  // writer that is never idle still bounds its WAL.
  bool checkpoint_when_idle = false;
};

// The WAL size (pages; 64 MiB at 4 KiB) at which a commit checkpoints
// anyway when the pool checkpoints in idle time.
inline constexpr int kIdleCheckpointFallbackPages = 16384;

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
  // Steps of idle work run (each in its own transaction, none counted in
  // transactions or writes above), and those that failed or whose COMMIT
  // failed.
  uint64_t idle_steps = 0;
  uint64_t failed_idle_steps = 0;
  // Checkpoints run in idle time (checkpoint_when_idle), failed or not.
  uint64_t idle_checkpoints = 0;
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
// Idle work (ConnectionPoolOptions::idle_work): what can wait, such as
// merging pending account history, runs between batches instead of inside
// them. It is armed once at start (so a restart finishes what a previous run
// left) and after every batch; while armed, once no write is queued and none
// has been committed for idle_delay, the writer runs one step in its own
// transaction, and again while the step answers that more is left and no
// write has arrived. A step answering false or failing disarms it (a failure
// is logged and rolled back) until the next batch. Queued writes always go
// first: a write arriving during a step waits for that one step only, so a
// step must be small (tens of ms). Idle steps are neither writes nor
// transactions in the stats and the write metrics; they have their own.
// With checkpoint_when_idle, once the idle work is done (or there is none),
// the writer also checkpoints the WAL once, outside any transaction, before
// it waits for the next write.
//
// Lifecycle: Shutdown (or the destructor) runs everything already queued,
// then closes the connections and joins the threads (no idle work runs once
// it began); work submitted after Shutdown began is not run and its `done`
// is called at once, on the caller's thread, with UNAVAILABLE.
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
  // Runs one step of idle_work in its own transaction; returns whether to
  // stay armed (the step succeeded and answered that more is left).
  bool RunIdleStep();
  // A PASSIVE checkpoint of the WAL, outside any transaction; failures are
  // logged (the next idle time or the fallback catches up).
  void RunIdleCheckpoint();
  // Logs a failed idle step or checkpoint: a warning the first time its
  // kind (status code) fails, debug after. Writer thread only.
  void WarnIdleFailure(const char* what, const absl::Status& status);
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
  const std::function<absl::StatusOr<bool>(WriteContext&)> idle_work_;
  const std::chrono::steady_clock::duration idle_delay_;
  const bool checkpoint_when_idle_;
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
  metrics::Counter& idle_steps_counter_;
  metrics::Counter& failed_idle_steps_counter_;
  metrics::Histogram& idle_step_latency_;
  metrics::Counter& idle_checkpoints_counter_;
  metrics::Gauge& upkeep_due_;
  metrics::Histogram& idle_checkpoint_latency_;

  mutable std::mutex mu_;
  std::condition_variable read_available_;
  std::condition_variable write_available_;
  std::deque<ReadItem> read_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<WriteItem> write_queue_ ABSL_GUARDED_BY(mu_);
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  ConnectionPoolStats stats_ ABSL_GUARDED_BY(mu_);

  // Failure kinds of idle steps already logged as warnings (later ones of
  // the same kind are logged at debug level). Writer thread only.
  std::set<absl::StatusCode> warned_idle_failures_;

  // Separate from mu_ so that the threads keep draining while Shutdown
  // holds it and joins them.
  std::mutex join_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_CONNECTION_POOL_H_
