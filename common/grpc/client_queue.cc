#include "common/grpc/client_queue.h"

#include <pthread.h>

#include <utility>

#include "common/grpc/completion_tag.h"

namespace coffer::grpc_util {

ClientQueue::ClientQueue(std::string name) {
  poller_ = std::thread([this, name = std::move(name)] {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    Poll();
  });
  poller_id_ = poller_.get_id();
}

ClientQueue::~ClientQueue() { Shutdown(); }

bool ClientQueue::AddCall(grpc::ClientContext* context) {
  std::lock_guard lock(mu_);
  if (!open_) return false;
  calls_.insert(context);
  return true;
}

void ClientQueue::RemoveCall(grpc::ClientContext* context) {
  std::lock_guard lock(mu_);
  calls_.erase(context);
  if (calls_.empty()) changed_.notify_all();
}

void ClientQueue::Shutdown() {
  {
    std::unique_lock lock(mu_);
    if (!open_) {
      // Another thread is shutting down or has: wait until it is done.
      changed_.wait(lock, [this] { return stopped_; });
      return;
    }
    open_ = false;
    for (grpc::ClientContext* context : calls_) context->TryCancel();
    changed_.wait(lock, [this] { return calls_.empty(); });
  }
  // Nothing is in flight and nothing new can start: now the queue may go.
  cq_.Shutdown();
  poller_.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
  changed_.notify_all();
}

void ClientQueue::Poll() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) static_cast<CompletionTag*>(tag)->OnComplete(ok);
}

}  // namespace coffer::grpc_util
