#include "common/exec/thread_pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/exec/thread_name.h"

namespace coffer::exec {
namespace {

// The pool whose worker is the calling thread, if any: lets Shutdown and the
// destructor recognise a call from one of their own tasks.
thread_local const ThreadPool* current_pool = nullptr;

}  // namespace

ThreadPool::ThreadPool(std::string name, int threads)
    : name_(std::move(name)), size_(std::max(threads, 1)) {
  std::lock_guard<std::mutex> lock(join_mu_);
  threads_.reserve(size_);
  for (int i = 0; i < size_; ++i) {
    std::string thread_name = ThreadName(name_, "-" + std::to_string(i));
    threads_.emplace_back([this, thread_name = std::move(thread_name)] {
      SetCurrentThreadName(thread_name);
      current_pool = this;
      RunWorker();
    });
  }
}

ThreadPool::~ThreadPool() {
  if (current_pool == this) {
    std::fprintf(stderr, "ThreadPool %s destroyed from one of its own threads\n", name_.c_str());
    std::abort();
  }
  Shutdown();
}

bool ThreadPool::Submit(absl::AnyInvocable<void() &&> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return false;
    queue_.push_back(std::move(task));
  }
  work_available_.notify_one();
  return true;
}

void ThreadPool::StopAccepting() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
  }
  work_available_.notify_all();
}

void ThreadPool::Shutdown() {
  StopAccepting();
  if (current_pool == this) return;
  std::lock_guard<std::mutex> lock(join_mu_);
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

size_t ThreadPool::QueueDepth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ThreadPool::RunWorker() {
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_available_.wait(lock, [this] { return !queue_.empty() || !accepting_; });
      // Shutting down exits only once the queue is drained.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace coffer::exec
