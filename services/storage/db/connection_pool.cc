#include "services/storage/db/connection_pool.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/exec/thread_name.h"
#include "common/log/fmt_absl.h"
#include "common/metrics/registry.h"
#include "common/status/status_macros.h"

namespace coffer::storage::db {
namespace {

// The pool whose thread is the calling thread, if any: lets the blocking
// calls and Shutdown refuse to deadlock.
thread_local const ConnectionPool* current_pool = nullptr;

// The savepoint each write runs in. One name suffices: writes of a batch run
// one after another, each savepoint released before the next begins.
constexpr absl::string_view kWriteSavepoint = "coffer_write";

absl::Status Unavailable() {
  return absl::UnavailableError("the storage database is shutting down");
}

metrics::Registry& Metrics() { return metrics::Registry::Global(); }

// Blocks until `done` has been called once, for the Sync forms.
class Waiter {
 public:
  ConnectionPool::Done Callback() {
    return [this](absl::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = std::move(status);
      finished_ = true;
      cv_.notify_all();
    };
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return finished_; });
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Open(
    const ConnectionPoolOptions& options, const SecretString& key) {
  OpenOptions write_options = options.open;
  write_options.read_only = false;
  if (options.checkpoint_when_idle) {
    write_options.wal_autocheckpoint_pages =
        std::max(write_options.wal_autocheckpoint_pages, kIdleCheckpointFallbackPages);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                   Connection::Open(options.path, key, write_options));
  OpenOptions read_options = options.open;
  read_options.read_only = true;
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < std::max(options.readers, 1); ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                     Connection::Open(options.path, key, read_options));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<ConnectionPool>(
      new ConnectionPool(options, std::move(writer), std::move(readers)));
}

ConnectionPool::ConnectionPool(const ConnectionPoolOptions& options,
                               std::unique_ptr<Connection> writer,
                               std::vector<std::unique_ptr<Connection>> readers)
    : path_(options.path),
      max_batch_(static_cast<size_t>(std::max(options.max_batch, 1))),
      idle_work_(options.idle_work),
      idle_delay_(absl::ToChronoNanoseconds(std::max(options.idle_delay, absl::ZeroDuration()))),
      checkpoint_when_idle_(options.checkpoint_when_idle),
      writer_connection_(std::move(writer)),
      reader_connections_(std::move(readers)),
      read_queue_depth_(Metrics().GetGauge("storage_db_read_queue_depth", {},
                                           "Reads queued for a reader thread.")),
      write_queue_depth_(Metrics().GetGauge("storage_db_write_queue_depth", {},
                                            "Writes queued for the writer thread.")),
      // Recorded through Observe(count): the values are write counts, not
      // seconds.
      batch_size_(Metrics().GetHistogram("storage_db_write_batch_size", {},
                                         "Writes per group commit (a count, not seconds).")),
      read_latency_(Metrics().GetHistogram("storage_db_read_latency_seconds", {},
                                           "From Read to its done, queueing included.")),
      write_latency_(Metrics().GetHistogram("storage_db_write_latency_seconds", {},
                                            "From Write to its done, queueing included.")),
      commit_latency_(Metrics().GetHistogram("storage_db_commit_latency_seconds", {},
                                             "Time spent in COMMIT per batch.")),
      transactions_counter_(Metrics().GetCounter("storage_db_write_transactions", {},
                                                 "Write transactions (group commits) begun.")),
      failed_commits_counter_(Metrics().GetCounter("storage_db_failed_write_batches", {},
                                                   "Group commits that failed as a whole.")),
      savepoint_reruns_counter_(Metrics().GetCounter(
          "storage_db_savepoint_reruns", {},
          "Batches run again with a savepoint per write because one write failed.")),
      // Under SQLCipher every page read from the file is decrypted and every
      // page written is encrypted: these two say where a write's time goes.
      pages_written_counter_(Metrics().GetCounter(
          "storage_db_writer_pages_written", {},
          "Pages the writer wrote to the WAL (each encrypted), commits and spills.")),
      pages_read_counter_(Metrics().GetCounter(
          "storage_db_writer_pages_read", {},
          "Pages the writer read from the file or WAL (each decrypted): page cache misses.")),
      // coffer_ names: what tools/bench/refresh reads through Admin.GetMetrics.
      idle_steps_counter_(Metrics().GetCounter(
          "coffer_storage_idle_steps_total", {},
          "Steps of idle work (e.g. account-history merges) the writer ran between batches.")),
      failed_idle_steps_counter_(
          Metrics().GetCounter("coffer_storage_failed_idle_steps_total", {},
                               "Steps of idle work that failed and were rolled back.")),
      idle_step_latency_(Metrics().GetHistogram(
          "coffer_storage_idle_step_seconds", {},
          "One step of idle work, BEGIN to COMMIT: the most a write arriving meanwhile waits.")),
      idle_checkpoints_counter_(
          Metrics().GetCounter("coffer_storage_idle_checkpoints_total", {},
                               "WAL checkpoints the writer ran in its idle time.")),
      upkeep_due_(Metrics().GetGauge(
          "coffer_storage_writer_upkeep_due", {},
          "1 while the writer still has idle work or a checkpoint to do (the next one starts "
          "once no write came for the idle delay), 0 when it has nothing left: quiescent.")),
      idle_checkpoint_latency_(Metrics().GetHistogram(
          "coffer_storage_idle_checkpoint_seconds", {},
          "One idle-time WAL checkpoint: the most a write arriving meanwhile waits.")) {
  std::lock_guard<std::mutex> lock(join_mu_);
  threads_.emplace_back([this] {
    exec::SetCurrentThreadName("storage-db-w");
    current_pool = this;
    RunWriter();
  });
  for (size_t i = 0; i < reader_connections_.size(); ++i) {
    Connection* connection = reader_connections_[i].get();
    threads_.emplace_back([this, connection, i] {
      exec::SetCurrentThreadName(exec::ThreadName("storage-db-r", absl::StrCat(i)));
      current_pool = this;
      RunReader(connection, static_cast<int>(i));
    });
  }
}

ConnectionPool::~ConnectionPool() { Shutdown(); }

void ConnectionPool::CheckNotOnPoolThread(const char* what) const {
  if (current_pool == this) {
    std::fprintf(stderr, "ConnectionPool::%s called from one of the pool's own threads\n", what);
    std::abort();
  }
}

void ConnectionPool::Read(ReadWork work, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (accepting_) {
      read_queue_.push_back({std::move(work), std::move(done), std::chrono::steady_clock::now()});
      read_queue_depth_.Add(1);
      read_available_.notify_one();
      return;
    }
  }
  done(Unavailable());
}

void ConnectionPool::Write(WriteWork work, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (accepting_) {
      write_queue_.push_back({std::move(work), std::move(done), std::chrono::steady_clock::now()});
      write_queue_depth_.Add(1);
      write_available_.notify_one();
      return;
    }
  }
  done(Unavailable());
}

absl::Status ConnectionPool::ReadSync(ReadWork work) {
  CheckNotOnPoolThread("ReadSync");
  Waiter waiter;
  Read(std::move(work), waiter.Callback());
  return waiter.Wait();
}

absl::Status ConnectionPool::WriteSync(WriteWork work) {
  CheckNotOnPoolThread("WriteSync");
  Waiter waiter;
  Write(std::move(work), waiter.Callback());
  return waiter.Wait();
}

void ConnectionPool::Shutdown() {
  CheckNotOnPoolThread("Shutdown");
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
  }
  read_available_.notify_all();
  write_available_.notify_all();
  std::lock_guard<std::mutex> lock(join_mu_);
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

ConnectionPoolStats ConnectionPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void ConnectionPool::RunReader(Connection* connection, int index) {
  while (true) {
    ReadItem item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      read_available_.wait(lock, [this] { return !read_queue_.empty() || !accepting_; });
      // Shutting down exits only once the queue is drained.
      if (read_queue_.empty()) return;
      item = std::move(read_queue_.front());
      read_queue_.pop_front();
      read_queue_depth_.Add(-1);
    }
    absl::Status status = connection->Begin(Connection::TransactionMode::kDeferred);
    if (status.ok()) {
      ReadContext context(*connection);
      status = item.work(context);
      // A read changes nothing: COMMIT and ROLLBACK only end the snapshot.
      absl::Status end = status.ok() ? connection->Commit() : connection->Rollback();
      if (!end.ok()) {
        spdlog::error("storage db reader {}: ending a read transaction failed: {}", index, end);
        if (status.ok()) status = std::move(end);
        // Never keep an old snapshot open into the next read.
        (void)connection->Rollback();
      }
    }
    item.done(std::move(status));
    read_latency_.Record(absl::FromChrono(std::chrono::steady_clock::now() - item.queued));
    // Destroy the callables here, on this thread, before taking the next.
    item = ReadItem();
  }
}

void ConnectionPool::RunWriter() {
  std::vector<WriteItem> batch;
  // Armed at start: a merge the previous run left half done goes on, and
  // a WAL it left is checkpointed.
  bool idle_armed = static_cast<bool>(idle_work_);
  bool checkpoint_due = checkpoint_when_idle_;
  auto last_batch = std::chrono::steady_clock::now();
  while (true) {
    upkeep_due_.Set(idle_armed || checkpoint_due ? 1 : 0);
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto wake = [this] { return !write_queue_.empty() || !accepting_; };
      if (idle_armed || checkpoint_due) {
        if (!write_available_.wait_until(lock, last_batch + idle_delay_, wake)) {
          // Idle for idle_delay, nothing queued, not shutting down. The
          // idle work first: its pages go into the same checkpoint.
          lock.unlock();
          if (idle_armed) {
            idle_armed = RunIdleStep();
          } else {
            RunIdleCheckpoint();
            checkpoint_due = false;
          }
          continue;
        }
      } else {
        write_available_.wait(lock, wake);
      }
      // Shutting down exits only once the queue is drained, with no idle
      // work.
      if (write_queue_.empty()) {
        upkeep_due_.Set(0);
        return;
      }
      // Everything queued so far, up to max_batch: these writes arrived while
      // the previous batch (or idle step) was committing.
      const size_t n = std::min(write_queue_.size(), max_batch_);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(write_queue_.front()));
        write_queue_.pop_front();
      }
      write_queue_depth_.Add(-static_cast<double>(n));
    }
    CommitBatch(batch);
    batch.clear();
    idle_armed = static_cast<bool>(idle_work_);
    checkpoint_due = checkpoint_when_idle_;
    last_batch = std::chrono::steady_clock::now();
  }
}

bool ConnectionPool::RunIdleStep() {
  Connection& connection = *writer_connection_;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<bool> more = false;
  if (absl::Status begin = connection.Begin(Connection::TransactionMode::kImmediate); !begin.ok()) {
    more = begin;
  } else {
    WriteContext context(connection);
    more = idle_work_(context);
    if (!connection.InTransaction()) {
      more = absl::InternalError(absl::StrCat(
          "idle work ended its transaction",
          more.ok() ? std::string() : absl::StrCat(" (", more.status().ToString(), ")")));
    } else if (more.ok()) {
      if (absl::Status commit = connection.Commit(); !commit.ok()) more = commit;
    }
  }
  if (!more.ok() && connection.InTransaction()) {
    if (absl::Status status = connection.Rollback(); !status.ok()) {
      spdlog::error("storage db: rollback after a failed idle step failed: {}", status);
    }
  }
  idle_step_latency_.Record(absl::FromChrono(std::chrono::steady_clock::now() - start));
  idle_steps_counter_.Increment();
  if (!more.ok()) failed_idle_steps_counter_.Increment();
  CountPages();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.idle_steps;
    if (!more.ok()) ++stats_.failed_idle_steps;
  }
  if (more.ok()) return *more;
  // Disarmed until the next batch.
  WarnIdleFailure("idle work failed (retried after the next write)", more.status());
  return false;
}

void ConnectionPool::WarnIdleFailure(const char* what, const absl::Status& status) {
  // The same failure in every idle time would flood the log: each kind
  // warns once.
  if (warned_idle_failures_.insert(status.code()).second) {
    spdlog::warn("storage db: {}: {}", what, status);
  } else {
    spdlog::debug("storage db: {} again: {}", what, status);
  }
}

void ConnectionPool::RunIdleCheckpoint() {
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = writer_connection_->CheckpointPassive();
  idle_checkpoint_latency_.Record(absl::FromChrono(std::chrono::steady_clock::now() - start));
  idle_checkpoints_counter_.Increment();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.idle_checkpoints;
  }
  if (!status.ok()) {
    WarnIdleFailure("idle checkpoint failed (tried again in the next idle time)", status);
  }
}

absl::Status ConnectionPool::RunWork(WriteItem& item, absl::Status& batch_error) {
  WriteContext context(*writer_connection_);
  absl::Status outcome = item.work(context);
  if (!writer_connection_->InTransaction()) {
    // The work ended the batch's transaction (an explicit COMMIT/ROLLBACK,
    // or SQLite rolled back after a disk error): what the earlier writes of
    // the batch did is no longer known to be committed or not.
    batch_error = absl::InternalError(
        absl::StrCat("a write ended the group-commit transaction",
                     outcome.ok() ? std::string() : absl::StrCat(" (", outcome.ToString(), ")")));
    return batch_error;
  }
  return outcome;
}

bool ConnectionPool::RunWithoutSavepoints(std::vector<WriteItem>& batch,
                                          std::vector<absl::Status>& outcomes,
                                          absl::Status& batch_error) {
  for (WriteItem& item : batch) {
    absl::Status outcome = RunWork(item, batch_error);
    const bool ok = outcome.ok();
    outcomes.push_back(std::move(outcome));
    if (!ok || !batch_error.ok()) return false;
  }
  return true;
}

absl::Status ConnectionPool::RunInSavepoint(WriteItem& item, absl::Status& batch_error) {
  Connection& connection = *writer_connection_;
  if (absl::Status status = connection.Savepoint(kWriteSavepoint); !status.ok()) {
    batch_error = status;
    return status;
  }
  absl::Status outcome = RunWork(item, batch_error);
  if (!batch_error.ok()) return batch_error;
  if (outcome.ok()) {
    if (absl::Status status = connection.Release(kWriteSavepoint); !status.ok()) {
      batch_error = status;
      return status;
    }
    return outcome;
  }
  absl::Status undo = connection.RollbackTo(kWriteSavepoint);
  if (undo.ok()) undo = connection.Release(kWriteSavepoint);
  if (!undo.ok()) batch_error = undo;
  return outcome;
}

void ConnectionPool::CountPages() {
  sqlite3* db = writer_connection_->raw();
  int current = 0;
  int highwater = 0;
  if (sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &current, &highwater, 1) == SQLITE_OK) {
    pages_written_counter_.Increment(static_cast<uint64_t>(current));
  }
  if (sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_MISS, &current, &highwater, 1) == SQLITE_OK) {
    pages_read_counter_.Increment(static_cast<uint64_t>(current));
  }
}

void ConnectionPool::CommitBatch(std::vector<WriteItem>& batch) {
  Connection& connection = *writer_connection_;
  std::vector<absl::Status> outcomes;
  outcomes.reserve(batch.size());
  absl::Status batch_error = connection.Begin(Connection::TransactionMode::kImmediate);
  bool rolled_back = false;
  if (batch_error.ok() && !RunWithoutSavepoints(batch, outcomes, batch_error) && batch_error.ok()) {
    // A work failed part-way: the transaction holds some of its changes.
    batch_error = connection.Rollback();
    if (batch_error.ok() && batch.size() == 1) {
      // Alone in its batch: the rollback undid exactly the failed write.
      rolled_back = true;
    } else if (batch_error.ok()) {
      // The others must not share its fate: run the batch again, each write
      // in its own savepoint.
      savepoint_reruns_counter_.Increment();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.savepoint_reruns;
      }
      outcomes.clear();
      batch_error = connection.Begin(Connection::TransactionMode::kImmediate);
      for (WriteItem& item : batch) {
        if (!batch_error.ok()) break;
        outcomes.push_back(RunInSavepoint(item, batch_error));
      }
    }
  }
  if (batch_error.ok() && !rolled_back) {
    const auto commit_start = std::chrono::steady_clock::now();
    batch_error = connection.Commit();
    commit_latency_.Record(absl::FromChrono(std::chrono::steady_clock::now() - commit_start));
  }
  if (!batch_error.ok()) {
    spdlog::error("storage db: group commit of {} writes failed: {}", batch.size(), batch_error);
    if (absl::Status status = connection.Rollback(); !status.ok()) {
      spdlog::error("storage db: rollback after a failed group commit failed: {}", status);
    }
    failed_commits_counter_.Increment();
  }
  transactions_counter_.Increment();
  CountPages();
  batch_size_.Observe(static_cast<double>(batch.size()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.transactions;
    stats_.writes += outcomes.size();
    if (!batch_error.ok()) ++stats_.failed_batches;
  }
  // Only now, after COMMIT returned, is anyone told anything.
  for (size_t i = 0; i < batch.size(); ++i) {
    WriteItem& item = batch[i];
    item.done(batch_error.ok() ? std::move(outcomes[i]) : batch_error);
    write_latency_.Record(absl::FromChrono(std::chrono::steady_clock::now() - item.queued));
  }
}

}  // namespace coffer::storage::db
