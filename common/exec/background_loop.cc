#include "common/exec/background_loop.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/exec/condition_wait.h"
#include "common/exec/thread_name.h"

namespace coffer::exec {
namespace {

// The loop whose thread is the calling thread, if any: lets Stop and the
// destructor recognise a call from the body.
thread_local const BackgroundLoop* current_loop = nullptr;

}  // namespace

BackgroundLoop::BackgroundLoop(std::string name, absl::Duration interval, Body body)
    : name_(std::move(name)), interval_(interval), body_(std::move(body)) {}

BackgroundLoop::~BackgroundLoop() {
  if (current_loop == this) {
    std::fprintf(stderr, "BackgroundLoop %s destroyed from its own body\n", name_.c_str());
    std::abort();
  }
  Stop();
}

void BackgroundLoop::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stop_.HasBeenNotified()) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void BackgroundLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.Notify();
  }
  wake_.notify_all();
  // The body cannot join its own thread, and must not wait for
  // lifecycle_mu_: the owner may hold it while joining this very thread.
  if (current_loop == this) return;
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (thread_.joinable()) thread_.join();
}

void BackgroundLoop::TriggerNow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    triggered_ = true;
  }
  wake_.notify_all();
}

uint64_t BackgroundLoop::iterations() const { return iterations_.load(std::memory_order_acquire); }

void BackgroundLoop::Run() {
  SetCurrentThreadName(name_);
  current_loop = this;
  while (!stop_.HasBeenNotified()) {
    {
      // This run answers every trigger that came before it.
      std::lock_guard<std::mutex> lock(mu_);
      triggered_ = false;
    }
    body_(stop_);
    iterations_.fetch_add(1, std::memory_order_release);
    std::unique_lock<std::mutex> lock(mu_);
    WaitWithTimeout(wake_, lock, interval_,
                    [this] { return triggered_ || stop_.HasBeenNotified(); });
  }
}

}  // namespace coffer::exec
