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
  absl::MutexLock lock(&mu_);
  if (!open_) return false;
  calls_.insert(context);
  return true;
}

void ClientQueue::RemoveCall(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  calls_.erase(context);
}

void ClientQueue::Shutdown() {
  auto no_calls = +[](std::set<grpc::ClientContext*>* calls) { return calls->empty(); };
  {
    absl::MutexLock lock(&mu_);
    if (!open_) {
      // Another thread is shutting down or has: wait until it is done.
      mu_.Await(absl::Condition(&stopped_));
      return;
    }
    open_ = false;
    for (grpc::ClientContext* context : calls_) context->TryCancel();
    mu_.Await(absl::Condition(no_calls, &calls_));
  }
  // Nothing is in flight and nothing new can start: now the queue may go.
  cq_.Shutdown();
  poller_.join();
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

void ClientQueue::Poll() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) static_cast<CompletionTag*>(tag)->OnComplete(ok);
}

}  // namespace coffer::grpc_util
