#include "services/storage/db/connection_pool.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

#include "common/metrics/registry.h"
#include "tests/services/storage/db/test_files.h"

namespace coffer::storage::db {
namespace {

using testing::FreshPath;
using testing::Key;

// Generous bound on waits that only a bug would exhaust; no assertion
// depends on how fast anything runs.
constexpr auto kPatience = std::chrono::seconds(60);

// A one-shot flag to wait for, on std primitives (visible to TSan).
class Latch {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Returns whether the latch opened within kPatience.
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Collects the outcomes of asynchronous calls, each tagged by the caller.
class Outcomes {
 public:
  ConnectionPool::Done Recorder(std::string tag) {
    return [this, tag = std::move(tag)](absl::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      outcomes_[tag] = std::move(status);
      cv_.notify_all();
    };
  }
  bool WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return outcomes_.size() >= count; });
  }
  absl::Status Get(const std::string& tag) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = outcomes_.find(tag);
    return it == outcomes_.end() ? absl::UnknownError("no outcome yet") : it->second;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcomes_.size();
  }
  size_t ok_count() {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [tag, status] : outcomes_) n += status.ok();
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, absl::Status> outcomes_;
};

ConnectionPool::WriteWork Insert(std::string k) {
  return [k = std::move(k)](WriteContext& tx) -> absl::Status {
    absl::StatusOr<CachedStatement> insert = tx.Prepare("INSERT INTO kv (k) VALUES (?1)");
    if (!insert.ok()) return insert.status();
    if (absl::Status s = (*insert)->Bind(1, k); !s.ok()) return s;
    return (*insert)->Run();
  };
}

absl::StatusOr<int64_t> CountIn(Connection& db, const std::string& where = "1") {
  absl::StatusOr<CachedStatement> count = db.Prepare("SELECT count(*) FROM kv WHERE " + where);
  if (!count.ok()) return count.status();
  absl::StatusOr<bool> row = (*count)->Step();
  if (!row.ok()) return row.status();
  return (*count)->ColumnInt64(0);
}

class ConnectionPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = FreshPath(
        absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db"));
    pool_ = OpenPool();
    ASSERT_NE(pool_, nullptr);
    ASSERT_TRUE(pool_
                    ->WriteSync([](WriteContext& tx) {
                      return tx.Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)");
                    })
                    .ok());
  }

  std::unique_ptr<ConnectionPool> OpenPool() {
    ConnectionPoolOptions options;
    options.path = path_;
    options.readers = 4;
    absl::StatusOr<std::unique_ptr<ConnectionPool>> pool = ConnectionPool::Open(options, Key());
    EXPECT_TRUE(pool.ok()) << pool.status();
    return pool.ok() ? std::move(*pool) : nullptr;
  }

  int64_t Count(const std::string& where = "1") {
    int64_t n = -1;
    absl::Status status = pool_->ReadSync([&](ReadContext& rx) -> absl::Status {
      absl::StatusOr<int64_t> count = CountIn(rx.connection(), where);
      if (!count.ok()) return count.status();
      n = *count;
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return n;
  }

  // Queues a write that holds the writer (inside its transaction) until
  // `gate` opens, and waits until it is running: writes queued meanwhile all
  // wait for the next batch.
  void BlockWriter(Latch& gate, Outcomes& outcomes) {
    auto inside = std::make_shared<Latch>();
    pool_->Write(
        [&gate, inside](WriteContext&) {
          inside->Open();
          return gate.Wait() ? absl::OkStatus() : absl::DeadlineExceededError("gate");
        },
        outcomes.Recorder("blocker"));
    ASSERT_TRUE(inside->Wait());
  }

  std::string path_;
  std::unique_ptr<ConnectionPool> pool_;
};

TEST_F(ConnectionPoolTest, ReadersProceedDuringALongWrite) {
  constexpr int kReads = 20;
  Latch write_inside;
  Latch reads_done;
  std::atomic<int> reads_finished{0};
  std::atomic<int> reads_seeing_pending{0};
  bool reads_finished_during_write = false;
  Outcomes writes;

  pool_->Write(
      [&](WriteContext& tx) -> absl::Status {
        if (absl::Status s = Insert("pending")(tx); !s.ok()) return s;
        write_inside.Open();
        // Hold the transaction open (at least 500 ms) until every read has
        // completed; readers that waited for the writer would never get here.
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        reads_finished_during_write = reads_done.Wait();
        return absl::OkStatus();
      },
      writes.Recorder("long"));
  ASSERT_TRUE(write_inside.Wait());

  Outcomes reads;
  for (int i = 0; i < kReads; ++i) {
    pool_->Read(
        [&](ReadContext& rx) -> absl::Status {
          absl::StatusOr<int64_t> n = CountIn(rx.connection(), "k = 'pending'");
          if (!n.ok()) return n.status();
          if (*n != 0) ++reads_seeing_pending;
          return absl::OkStatus();
        },
        [&, done = reads.Recorder(absl::StrCat(i))](absl::Status status) mutable {
          done(std::move(status));
          if (++reads_finished == kReads) reads_done.Open();
        });
  }
  ASSERT_TRUE(writes.WaitFor(1));
  EXPECT_TRUE(writes.Get("long").ok()) << writes.Get("long");
  EXPECT_TRUE(reads_finished_during_write);
  EXPECT_EQ(reads.ok_count(), static_cast<size_t>(kReads));
  EXPECT_EQ(reads_seeing_pending.load(), 0) << "uncommitted data must stay invisible";
  EXPECT_EQ(Count("k = 'pending'"), 1);
}

TEST_F(ConnectionPoolTest, AReadSeesOneConsistentState) {
  int64_t first = -1, second = -1;
  absl::Status status = pool_->ReadSync([&](ReadContext& rx) -> absl::Status {
    absl::StatusOr<int64_t> n = CountIn(rx.connection());
    if (!n.ok()) return n.status();
    first = *n;
    // A write commits while this read transaction is open.
    Latch committed;
    pool_->Write(Insert("during_read"), [&](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      committed.Open();
    });
    if (!committed.Wait()) return absl::DeadlineExceededError("write never committed");
    n = CountIn(rx.connection());
    if (!n.ok()) return n.status();
    second = *n;
    return absl::OkStatus();
  });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(first, second);
  EXPECT_EQ(Count(), first + 1);
}

TEST_F(ConnectionPoolTest, ConcurrentWritesShareTransactions) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 10;
  const ConnectionPoolStats before = pool_->stats();
  Latch gate;
  Outcomes outcomes;
  BlockWriter(gate, outcomes);

  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const std::string k = absl::StrCat(t, "-", i);
        pool_->Write(Insert(k), outcomes.Recorder(k));
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(outcomes.size(), 0u) << "nothing is acknowledged before its commit";
  gate.Open();

  constexpr size_t kTotal = kThreads * kWritesPerThread + 1;
  ASSERT_TRUE(outcomes.WaitFor(kTotal));
  EXPECT_EQ(outcomes.ok_count(), kTotal);
  const ConnectionPoolStats after = pool_->stats();
  EXPECT_EQ(after.writes - before.writes, kTotal);
  // The blocker's batch, then every queued write in one more.
  EXPECT_EQ(after.transactions - before.transactions, 2u);
  EXPECT_EQ(Count(), kThreads * kWritesPerThread);
}

TEST_F(ConnectionPoolTest, AFailingWriteRollsBackOnlyItself) {
  const ConnectionPoolStats before = pool_->stats();
  Latch gate;
  Outcomes outcomes;
  BlockWriter(gate, outcomes);

  pool_->Write(Insert("a"), outcomes.Recorder("a"));
  pool_->Write(
      [](WriteContext& tx) -> absl::Status {
        if (absl::Status s = Insert("b")(tx); !s.ok()) return s;
        return absl::InvalidArgumentError("item b is bad");
      },
      outcomes.Recorder("b"));
  pool_->Write(Insert("a"), outcomes.Recorder("duplicate"));
  pool_->Write(Insert("c"), outcomes.Recorder("c"));
  gate.Open();

  ASSERT_TRUE(outcomes.WaitFor(5));
  EXPECT_TRUE(outcomes.Get("a").ok()) << outcomes.Get("a");
  EXPECT_EQ(outcomes.Get("b"), absl::InvalidArgumentError("item b is bad"));
  EXPECT_EQ(outcomes.Get("duplicate").code(), absl::StatusCode::kAlreadyExists)
      << outcomes.Get("duplicate");
  EXPECT_TRUE(outcomes.Get("c").ok()) << outcomes.Get("c");
  EXPECT_EQ(Count(), 2);
  EXPECT_EQ(Count("k IN ('a', 'c')"), 2);
  const ConnectionPoolStats after = pool_->stats();
  EXPECT_EQ(after.transactions - before.transactions, 2u);
  EXPECT_EQ(after.failed_batches, before.failed_batches);
  // b failed after writing: the batch ran again, each write in a savepoint.
  EXPECT_EQ(after.savepoint_reruns - before.savepoint_reruns, 1u);
}

TEST_F(ConnectionPoolTest, WritesRunOnceUnlessAnotherOfTheirBatchFails) {
  // Savepoints cost an encrypted page copy each: a batch runs without them,
  // every work once, and only a failure makes the batch run again.
  const ConnectionPoolStats before = pool_->stats();
  std::atomic<int> runs{0};
  auto counted = [&runs](std::string k) {
    return [&runs, k](WriteContext& tx) {
      runs.fetch_add(1);
      return Insert(k)(tx);
    };
  };
  {
    Latch gate;
    Outcomes outcomes;
    BlockWriter(gate, outcomes);
    for (const char* k : {"p", "q", "r"}) pool_->Write(counted(k), outcomes.Recorder(k));
    gate.Open();
    ASSERT_TRUE(outcomes.WaitFor(4));
    EXPECT_EQ(outcomes.ok_count(), 4u);
  }
  EXPECT_EQ(runs.load(), 3);
  EXPECT_EQ(pool_->stats().savepoint_reruns, before.savepoint_reruns);

  runs = 0;
  Latch gate;
  Outcomes outcomes;
  BlockWriter(gate, outcomes);
  pool_->Write(counted("s"), outcomes.Recorder("s"));
  pool_->Write(counted("p"), outcomes.Recorder("duplicate of p"));
  pool_->Write(counted("t"), outcomes.Recorder("t"));
  gate.Open();
  ASSERT_TRUE(outcomes.WaitFor(4));
  EXPECT_TRUE(outcomes.Get("s").ok()) << outcomes.Get("s");
  EXPECT_EQ(outcomes.Get("duplicate of p").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(outcomes.Get("t").ok()) << outcomes.Get("t");
  // s and the duplicate ran, the duplicate failed; then all three again.
  EXPECT_EQ(runs.load(), 5);
  EXPECT_EQ(pool_->stats().savepoint_reruns, before.savepoint_reruns + 1);
  EXPECT_EQ(Count("k IN ('p', 'q', 'r', 's', 't')"), 5);
  EXPECT_EQ(Count(), 5);
}

TEST_F(ConnectionPoolTest, AFailingWriteAloneInItsBatchLeavesNothing) {
  // A batch of one runs without a savepoint; its failure must still undo
  // everything it did, and the writer go on.
  const ConnectionPoolStats before = pool_->stats();
  absl::Status failed = pool_->WriteSync([](WriteContext& tx) -> absl::Status {
    if (absl::Status s = Insert("x")(tx); !s.ok()) return s;
    if (absl::Status s = Insert("y")(tx); !s.ok()) return s;
    return absl::InvalidArgumentError("item y is bad");
  });
  EXPECT_EQ(failed, absl::InvalidArgumentError("item y is bad"));
  EXPECT_EQ(Count(), 0);
  const ConnectionPoolStats after = pool_->stats();
  EXPECT_EQ(after.failed_batches, before.failed_batches);
  EXPECT_TRUE(pool_->WriteSync(Insert("x")).ok());
  EXPECT_EQ(Count("k = 'x'"), 1);
}

TEST_F(ConnectionPoolTest, AWriteThatEndsTheTransactionFailsItsBatch) {
  Latch gate;
  Outcomes outcomes;
  BlockWriter(gate, outcomes);
  pool_->Write(Insert("before"), outcomes.Recorder("before"));
  pool_->Write([](WriteContext& tx) { return tx.Execute("ROLLBACK"); }, outcomes.Recorder("rogue"));
  pool_->Write(Insert("after"), outcomes.Recorder("after"));
  gate.Open();
  ASSERT_TRUE(outcomes.WaitFor(4));
  EXPECT_FALSE(outcomes.Get("before").ok());
  EXPECT_FALSE(outcomes.Get("rogue").ok());
  EXPECT_FALSE(outcomes.Get("after").ok());
  EXPECT_EQ(Count(), 0);
  // The writer recovers for the next batch.
  EXPECT_TRUE(pool_->WriteSync(Insert("later")).ok());
  EXPECT_EQ(Count(), 1);
}

TEST_F(ConnectionPoolTest, EveryAcknowledgedWriteIsThereAfterReopening) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 50;
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        if (pool_->WriteSync(Insert(absl::StrCat(t, "-", i))).ok()) ++acknowledged;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(acknowledged.load(), kThreads * kWritesPerThread);
  EXPECT_EQ(Count(), acknowledged.load());
  EXPECT_LT(pool_->stats().transactions, pool_->stats().writes);

  pool_.reset();
  pool_ = OpenPool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_EQ(Count(), acknowledged.load());
}

TEST_F(ConnectionPoolTest, ShutdownFinishesQueuedWorkThenRefuses) {
  Outcomes outcomes;
  for (int i = 0; i < 30; ++i) {
    pool_->Write(Insert(absl::StrCat(i)), outcomes.Recorder(absl::StrCat("w", i)));
  }
  pool_->Read([](ReadContext&) { return absl::OkStatus(); }, outcomes.Recorder("read"));
  pool_->Shutdown();
  EXPECT_EQ(outcomes.size(), 31u);
  EXPECT_EQ(outcomes.ok_count(), 31u);

  pool_->Write(Insert("late"), outcomes.Recorder("late write"));
  pool_->Read([](ReadContext&) { return absl::OkStatus(); }, outcomes.Recorder("late read"));
  EXPECT_EQ(outcomes.Get("late write").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(outcomes.Get("late read").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool_->WriteSync(Insert("late")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool_->ReadSync([](ReadContext&) { return absl::OkStatus(); }).code(),
            absl::StatusCode::kUnavailable);
  pool_->Shutdown();  // idempotent

  pool_ = OpenPool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_EQ(Count(), 30);
}

TEST_F(ConnectionPoolTest, ReadersCannotWrite) {
  absl::Status status =
      pool_->ReadSync([](ReadContext& rx) { return rx.connection().Execute("DELETE FROM kv"); });
  EXPECT_FALSE(status.ok());
}

TEST_F(ConnectionPoolTest, WrongKeyFailsToOpen) {
  pool_.reset();
  ConnectionPoolOptions options;
  options.path = path_;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> pool =
      ConnectionPool::Open(options, Key(testing::kOtherKey));
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kFailedPrecondition) << pool.status();
}

TEST_F(ConnectionPoolTest, CountsThePagesTheWriterWrites) {
  auto pages_written = [] {
    for (const metrics::MetricSnapshot& m :
         metrics::Registry::Global().Snapshot("storage_db_writer_pages_written")) {
      return m.value;
    }
    return -1.0;
  };
  const double before = pages_written();
  ASSERT_TRUE(pool_
                  ->WriteSync([](WriteContext& tx) -> absl::Status {
                    for (int i = 0; i < 500; ++i) {
                      if (absl::Status s =
                              Insert(absl::StrCat("page-", i, std::string(200, 'x')))(tx);
                          !s.ok()) {
                        return s;
                      }
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  // 500 rows of ~200 bytes fill more than 20 pages of 4 KiB.
  EXPECT_GE(pages_written() - before, 20.0);
}

TEST_F(ConnectionPoolTest, ExportsMetrics) {
  ASSERT_TRUE(pool_->WriteSync(Insert("m")).ok());
  std::set<std::string> names;
  for (const metrics::MetricSnapshot& m : metrics::Registry::Global().Snapshot("storage_db_")) {
    names.insert(m.name);
  }
  for (const char* name : {"storage_db_read_queue_depth", "storage_db_write_queue_depth",
                           "storage_db_write_batch_size", "storage_db_read_latency_seconds",
                           "storage_db_write_latency_seconds", "storage_db_commit_latency_seconds",
                           "storage_db_write_transactions", "storage_db_writer_pages_written",
                           "storage_db_writer_pages_read"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
}

// Idle work (ConnectionPoolOptions::idle_work) for the tests below: every
// step is recorded in `events` with the writes that record themselves, so a
// test can check the order the writer ran them in. Shared with the pool's
// closure so that it outlives the pool whatever the test does.
class IdleScript : public std::enable_shared_from_this<IdleScript> {
 public:
  // What step `i` (from 0) does after recording itself.
  std::function<absl::StatusOr<bool>(WriteContext&, int)> step;

  std::function<absl::StatusOr<bool>(WriteContext&)> Work() {
    return [self = shared_from_this()](WriteContext& tx) {
      const int i = self->Record("step");
      return self->step(tx, i);
    };
  }
  ConnectionPool::WriteWork RecordedInsert(std::string k) {
    return [self = shared_from_this(), k = std::move(k)](WriteContext& tx) {
      self->Record(absl::StrCat("write ", k));
      return Insert(k)(tx);
    };
  }
  // Records `what` (numbered steps: "step 0", ...); returns the step number.
  int Record(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    const int i = what == "step" ? steps_++ : -1;
    events_.push_back(i >= 0 ? absl::StrCat("step ", i) : what);
    cv_.notify_all();
    return i;
  }
  bool WaitForSteps(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return steps_ >= n; });
  }
  std::vector<std::string> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  Latch inside;
  Latch release;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int steps_ = 0;
  std::vector<std::string> events_;
};

// A step that inserts its own row, then answers `more`.
absl::StatusOr<bool> InsertStep(WriteContext& tx, int i, absl::StatusOr<bool> more) {
  if (absl::Status s = Insert(absl::StrCat("idle-", i))(tx); !s.ok()) return s;
  return more;
}

class ConnectionPoolIdleTest : public ConnectionPoolTest {
 protected:
  // Replaces the fixture's pool (the kv table made) with one running
  // `script`'s steps as idle work after `delay`.
  void Reopen(const std::shared_ptr<IdleScript>& script, absl::Duration delay) {
    pool_.reset();
    ConnectionPoolOptions options;
    options.path = path_;
    options.readers = 2;
    options.idle_work = script->Work();
    options.idle_delay = delay;
    absl::StatusOr<std::unique_ptr<ConnectionPool>> pool = ConnectionPool::Open(options, Key());
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }

  using Events = std::vector<std::string>;
};

TEST_F(ConnectionPoolIdleTest, NoStepBeforeTheWriterWasIdleForTheDelay) {
  auto script = std::make_shared<IdleScript>();
  script->step = [](WriteContext& tx, int i) { return InsertStep(tx, i, true); };
  // A delay no test outlasts: armed at start and after each write, never due.
  Reopen(script, absl::Hours(1));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(pool_->WriteSync(script->RecordedInsert(absl::StrCat(i))).ok());
  EXPECT_EQ(pool_->stats().idle_steps, 0u);
  // Armed, so not quiescent.
  EXPECT_EQ(metrics::Registry::Global().GetGauge("coffer_storage_writer_upkeep_due").Value(), 1);
  // Shutting down while armed neither runs a step nor waits for the delay.
  pool_->Shutdown();
  EXPECT_EQ(script->events(), (Events{"write 0", "write 1", "write 2", "write 3", "write 4"}));
  EXPECT_EQ(pool_->stats().idle_steps, 0u);
}

TEST_F(ConnectionPoolIdleTest, StepsRunWhileMoreIsLeftThenWaitForAWrite) {
  auto script = std::make_shared<IdleScript>();
  // Three steps with more left, then none; after the write, one more.
  script->step = [](WriteContext& tx, int i) { return InsertStep(tx, i, i < 2); };
  Reopen(script, absl::Milliseconds(1));
  // Armed at start: runs until a step answers false.
  ASSERT_TRUE(script->WaitForSteps(3));
  ASSERT_TRUE(pool_->WriteSync(script->RecordedInsert("w")).ok());
  ASSERT_TRUE(script->WaitForSteps(4));
  pool_->Shutdown();
  // Disarmed by step 2's false: nothing ran between it and the write.
  EXPECT_EQ(script->events(), (Events{"step 0", "step 1", "step 2", "write w", "step 3"}));
  const ConnectionPoolStats stats = pool_->stats();
  EXPECT_EQ(stats.idle_steps, 4u);
  EXPECT_EQ(stats.transactions, 1u);
  // Each step committed in its own transaction.
  pool_ = OpenPool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_EQ(Count("k LIKE 'idle-%'"), 4);
}

TEST_F(ConnectionPoolIdleTest, AQueuedWriteGoesBeforeTheNextStep) {
  auto script = std::make_shared<IdleScript>();
  script->step = [script = script.get()](WriteContext& tx, int i) -> absl::StatusOr<bool> {
    if (i == 0) {
      script->inside.Open();
      if (!script->release.Wait()) return absl::DeadlineExceededError("release");
    }
    return InsertStep(tx, i, i == 0);
  };
  Reopen(script, absl::Milliseconds(1));
  ASSERT_TRUE(script->inside.Wait());
  // Queued while step 0 runs, which answers that more is left.
  Outcomes outcomes;
  pool_->Write(script->RecordedInsert("w"), outcomes.Recorder("w"));
  script->release.Open();
  ASSERT_TRUE(outcomes.WaitFor(1));
  EXPECT_TRUE(outcomes.Get("w").ok());
  ASSERT_TRUE(script->WaitForSteps(2));
  pool_->Shutdown();
  EXPECT_EQ(script->events(), (Events{"step 0", "write w", "step 1"}));
  const ConnectionPoolStats stats = pool_->stats();
  // Steps are neither transactions nor writes of the stats.
  EXPECT_EQ(stats.idle_steps, 2u);
  EXPECT_EQ(stats.transactions, 1u);
  EXPECT_EQ(stats.writes, 1u);
}

TEST_F(ConnectionPoolIdleTest, AFailedStepIsRolledBackAndRearmedByTheNextWrite) {
  auto script = std::make_shared<IdleScript>();
  script->step = [](WriteContext& tx, int i) -> absl::StatusOr<bool> {
    if (i == 0) return InsertStep(tx, i, absl::AbortedError("step failed"));
    return InsertStep(tx, i, false);
  };
  Reopen(script, absl::Milliseconds(1));
  ASSERT_TRUE(script->WaitForSteps(1));
  ASSERT_TRUE(pool_->WriteSync(script->RecordedInsert("w")).ok());
  ASSERT_TRUE(script->WaitForSteps(2));
  // Shutdown waits for the step that has begun.
  pool_->Shutdown();
  EXPECT_EQ(script->events(), (Events{"step 0", "write w", "step 1"}));
  const ConnectionPoolStats stats = pool_->stats();
  EXPECT_EQ(stats.idle_steps, 2u);
  EXPECT_EQ(stats.failed_idle_steps, 1u);
  EXPECT_EQ(stats.failed_batches, 0u);
  pool_ = OpenPool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_EQ(Count("k = 'idle-0'"), 0);
  EXPECT_EQ(Count("k = 'idle-1'"), 1);
}

TEST_F(ConnectionPoolIdleTest, AStepThatEndsItsTransactionFailsAlone) {
  auto script = std::make_shared<IdleScript>();
  script->step = [](WriteContext& tx, int i) -> absl::StatusOr<bool> {
    if (i == 0) {
      if (absl::Status s = tx.Execute("COMMIT"); !s.ok()) return s;
    }
    return false;
  };
  Reopen(script, absl::Milliseconds(1));
  ASSERT_TRUE(script->WaitForSteps(1));
  // The writer goes on with a transaction of its own.
  ASSERT_TRUE(pool_->WriteSync(script->RecordedInsert("w")).ok());
  ASSERT_TRUE(script->WaitForSteps(2));
  pool_->Shutdown();
  EXPECT_EQ(pool_->stats().failed_idle_steps, 1u);
  pool_ = OpenPool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_EQ(Count("k = 'w'"), 1);
}

TEST_F(ConnectionPoolIdleTest, ShutdownFinishesQueuedWritesWhileStepsHaveMoreLeft) {
  auto script = std::make_shared<IdleScript>();
  // Never done: the writer steps whenever it is idle.
  script->step = [](WriteContext&, int) -> absl::StatusOr<bool> { return true; };
  Reopen(script, absl::Milliseconds(1));
  ASSERT_TRUE(script->WaitForSteps(3));
  Outcomes outcomes;
  for (int i = 0; i < 10; ++i) {
    pool_->Write(Insert(absl::StrCat(i)), outcomes.Recorder(absl::StrCat("w", i)));
  }
  pool_->Shutdown();
  EXPECT_EQ(outcomes.ok_count(), 10u);
  const size_t steps = script->events().size();
  // Nothing runs once shut down.
  EXPECT_EQ(pool_->WriteSync(Insert("late")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(script->events().size(), steps);
  pool_ = OpenPool();
  ASSERT_NE(pool_, nullptr);
  EXPECT_EQ(Count(), 10);
}

TEST_F(ConnectionPoolIdleTest, ExportsIdleMetrics) {
  auto script = std::make_shared<IdleScript>();
  script->step = [](WriteContext&, int) -> absl::StatusOr<bool> { return false; };
  const uint64_t before =
      metrics::Registry::Global().GetCounter("coffer_storage_idle_steps_total").Value();
  Reopen(script, absl::Milliseconds(1));
  ASSERT_TRUE(script->WaitForSteps(1));
  pool_->Shutdown();
  EXPECT_EQ(metrics::Registry::Global().GetCounter("coffer_storage_idle_steps_total").Value(),
            before + 1);
}

// The size of the database file itself (not its WAL).
int64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

// 200 rows of 4,000 random bytes (~800 KB, ~200 pages: below SQLite's own
// 1,000-page autocheckpoint).
absl::Status InsertBlobs(WriteContext& tx) {
  return tx.Execute(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) "
      "INSERT INTO kv (k, v) SELECT 'blob-' || i, randomblob(4000) FROM n");
}

TEST_F(ConnectionPoolTest, WithoutIdleCheckpointsASmallWriteStaysInTheWal) {
  ASSERT_TRUE(pool_->WriteSync(InsertBlobs).ok());
  EXPECT_LT(FileSize(path_), 200 * 1000);
  EXPECT_EQ(pool_->stats().idle_checkpoints, 0u);
}

TEST_F(ConnectionPoolIdleTest, IdleCheckpointCopiesTheWalIntoTheFileAfterTheIdleWork) {
  pool_.reset();
  auto script = std::make_shared<IdleScript>();
  script->step = [](WriteContext& tx, int i) { return InsertStep(tx, i, i < 1); };
  ConnectionPoolOptions options;
  options.path = path_;
  options.readers = 1;
  options.idle_work = script->Work();
  options.idle_delay = absl::Milliseconds(1);
  options.checkpoint_when_idle = true;
  absl::StatusOr<std::unique_ptr<ConnectionPool>> pool = ConnectionPool::Open(options, Key());
  ASSERT_TRUE(pool.ok()) << pool.status();
  pool_ = std::move(*pool);
  ASSERT_TRUE(script->WaitForSteps(2));
  // The writer's own commits no longer checkpoint before the fallback.
  ASSERT_TRUE(pool_
                  ->WriteSync([](WriteContext& tx) -> absl::Status {
                    absl::StatusOr<CachedStatement> st = tx.Prepare("PRAGMA wal_autocheckpoint");
                    if (!st.ok()) return st.status();
                    if (!(*st)->Step().value_or(false)) return absl::InternalError("no row");
                    EXPECT_EQ((*st)->ColumnInt64(0), kIdleCheckpointFallbackPages);
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(pool_->WriteSync(InsertBlobs).ok());
  // After the write: the idle work's step, then one checkpoint.
  ASSERT_TRUE(script->WaitForSteps(3));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (FileSize(path_) < 200 * 4000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(FileSize(path_), 200 * 4000);
  EXPECT_GE(pool_->stats().idle_checkpoints, 1u);
  EXPECT_EQ(pool_->stats().failed_idle_steps, 0u);
  // Nothing left to do: the gauge tools/bench/refresh waits on says so.
  metrics::Gauge& upkeep = metrics::Registry::Global().GetGauge("coffer_storage_writer_upkeep_due");
  while (upkeep.Value() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(upkeep.Value(), 0);
  pool_->Shutdown();
}

// Not a fixture test: the process must have no threads of its own when it
// forks.
TEST(ConnectionPoolCrashTest, AcknowledgedWritesSurviveKill9) {
  const std::string path = FreshPath("kill9.db");
  {
    absl::StatusOr<std::unique_ptr<Connection>> db = Connection::Open(path, Key(), {});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").ok());
  }
  int acks[2];
  ASSERT_EQ(pipe(acks), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child writes until it is killed and reports each write on the
    // pipe only after WriteSync (its commit) returned.
    close(acks[0]);
    ConnectionPoolOptions options;
    options.path = path;
    absl::StatusOr<std::unique_ptr<ConnectionPool>> pool = ConnectionPool::Open(options, Key());
    if (!pool.ok()) _exit(2);
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&pool, t, fd = acks[1]] {
        for (int i = 0; i < 1'000'000; ++i) {
          const std::string k = absl::StrCat(t, "-", i);
          if (!(*pool)->WriteSync(Insert(k)).ok()) _exit(3);
          const std::string line = k + "\n";
          if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
    _exit(0);
  }
  close(acks[1]);
  // Kill the child once it has acknowledged a good number of writes.
  std::string reported;
  char buffer[4096];
  while (std::count(reported.begin(), reported.end(), '\n') < 500) {
    const ssize_t n = read(acks[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    reported.append(buffer, static_cast<size_t>(n));
  }
  kill(child, SIGKILL);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exited early with " << wait_status;
  // Acknowledgements already in the pipe when the child died count too.
  for (ssize_t n; (n = read(acks[0], buffer, sizeof(buffer))) > 0;) {
    reported.append(buffer, static_cast<size_t>(n));
  }
  close(acks[0]);

  absl::StatusOr<std::unique_ptr<Connection>> db = Connection::Open(path, Key(), {});
  ASSERT_TRUE(db.ok()) << db.status();
  {
    absl::StatusOr<CachedStatement> check = (*db)->Prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check.ok());
    ASSERT_TRUE((*check)->Step().value());
    EXPECT_EQ((*check)->ColumnText(0), "ok");
  }
  size_t acknowledged = 0;
  for (absl::string_view line : absl::StrSplit(reported, '\n', absl::SkipEmpty())) {
    // Lines are whole: pipe writes shorter than PIPE_BUF are atomic.
    ++acknowledged;
    absl::StatusOr<CachedStatement> select = (*db)->Prepare("SELECT 1 FROM kv WHERE k = ?1");
    ASSERT_TRUE(select.ok());
    ASSERT_TRUE((*select)->Bind(1, line).ok());
    EXPECT_TRUE((*select)->Step().value()) << "acknowledged write lost: " << line;
  }
  EXPECT_GE(acknowledged, 500u);
  absl::StatusOr<int64_t> stored = CountIn(**db);
  ASSERT_TRUE(stored.ok());
  EXPECT_GE(static_cast<size_t>(*stored), acknowledged);
}

}  // namespace
}  // namespace coffer::storage::db
