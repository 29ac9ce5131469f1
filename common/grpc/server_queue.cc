#include "common/grpc/server_queue.h"

#include <pthread.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "common/grpc/completion_tag.h"

namespace coffer::grpc_util {

ServerQueue::ServerQueue(std::unique_ptr<grpc::ServerCompletionQueue> cq, int index,
                         SlowHandlerDetector* detector)
    : cq_(std::move(cq)), index_(index), detector_(detector) {}

ServerQueue::~ServerQueue() {
  // A poller still running here would use a destroyed queue.
  if (poller_.joinable()) {
    Shutdown();
    Join();
  }
}

void ServerQueue::StartPolling() {
  poller_ = std::thread([this] { Poll(); });
}

bool ServerQueue::StartRequest(absl::FunctionRef<void()> start) {
  std::shared_lock lock(mu_);
  if (!accepting_ || !open_) return false;
  start();
  return true;
}

bool ServerQueue::StartOp(absl::FunctionRef<void()> start) {
  std::shared_lock lock(mu_);
  if (!open_) return false;
  start();
  return true;
}

void ServerQueue::StopAccepting() {
  std::unique_lock lock(mu_);
  accepting_ = false;
}

void ServerQueue::Shutdown() {
  {
    std::unique_lock lock(mu_);
    if (!open_) return;
    accepting_ = false;
    open_ = false;
  }
  cq_->Shutdown();
}

void ServerQueue::Join() {
  if (poller_.joinable()) poller_.join();
}

void ServerQueue::Poll() {
  std::string name = absl::StrCat("grpc-cq-", index_);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
    auto* completion = static_cast<CompletionTag*>(tag);
    if (detector_ == nullptr) {
      completion->OnComplete(ok);
      continue;
    }
    // Debug mode: measure how long the tag held this polling thread. The
    // name is read before OnComplete, which may free the tag's owner.
    std::string_view what = completion->Describe();
    std::string owner(what);
    absl::Time started = absl::Now();
    completion->OnComplete(ok);
    detector_->Observe(owner, absl::Now() - started);
  }
}

}  // namespace coffer::grpc_util
