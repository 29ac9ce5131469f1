#ifndef COFFER_COMMON_EXEC_THREAD_POOL_H_
#define COFFER_COMMON_EXEC_THREAD_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"

namespace coffer::exec {

// A fixed set of named threads running submitted tasks in FIFO order. The
// pool owns its threads: Shutdown (or the destructor) runs every task already
// queued and joins them all.
//
// For work that may block (database calls, sleeping): completion-queue
// pollers hand handlers to a pool instead of running them.
//
//   ThreadPool readers("storage-read", 4);
//   readers.Submit([request, done = std::move(done)]() mutable {
//     std::move(done)(ReadPortfolio(request));
//   });
//
// Tasks must not throw. Thread-safe.
class ThreadPool {
 public:
  // Starts `threads` threads (at least one), named "<name>-<i>", truncated to
  // 15 characters by keeping the index.
  ThreadPool(std::string name, int threads);

  // Calls Shutdown. Must not run on one of the pool's own threads (it would
  // join itself): doing so aborts the process.
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `task` and returns true, or returns false without running it once
  // Shutdown has begun. The task is destroyed on the thread that ran it.
  bool Submit(absl::AnyInvocable<void() &&> task);

  // Stops accepting tasks, lets the threads run everything already queued,
  // and joins them. Idempotent; concurrent callers all return after the
  // join. Called from one of the pool's own tasks, it only stops accepting
  // and returns: the owner's later Shutdown or destructor joins.
  void Shutdown();

  // Tasks queued and not yet started.
  size_t QueueDepth() const;

  // Number of threads.
  int size() const { return size_; }

  const std::string& name() const { return name_; }

 private:
  void RunWorker();
  // Refuses further tasks and wakes every worker so it can drain and exit.
  void StopAccepting();

  const std::string name_;
  const int size_;

  mutable std::mutex mu_;
  std::condition_variable work_available_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;

  // Separate from mu_ so that workers can keep draining the queue while
  // Shutdown holds this one and joins them.
  std::mutex join_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace coffer::exec

#endif  // COFFER_COMMON_EXEC_THREAD_POOL_H_
