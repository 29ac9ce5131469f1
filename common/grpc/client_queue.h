// ClientQueue: a CompletionQueue for outgoing calls and the thread that
// polls it. Callbacks of the calls started on it run on that thread, so
// they must not block.
//
// Every operation is started through StartOp, under the same open/closed
// discipline as the server's queues: once Shutdown has begun nothing new is
// started (grpc#8883). Shutdown cancels the calls still in flight, waits
// until each has come back, then shuts the queue down, drains it and joins
// the poller.
#ifndef COFFER_COMMON_GRPC_CLIENT_QUEUE_H_
#define COFFER_COMMON_GRPC_CLIENT_QUEUE_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include <grpcpp/grpcpp.h>

namespace coffer::grpc_util {

class ClientQueue {
 public:
  explicit ClientQueue(std::string name = "grpc-client");
  ClientQueue(const ClientQueue&) = delete;
  ClientQueue& operator=(const ClientQueue&) = delete;
  ~ClientQueue();

  grpc::CompletionQueue* cq() { return &cq_; }

  // Registers a call about to start operations; false once shutting down
  // (the caller then fails the call with UNAVAILABLE). Any thread.
  [[nodiscard]] bool AddCall(grpc::ClientContext* context);
  // Unregisters a call whose last operation has come back. Any thread.
  void RemoveCall(grpc::ClientContext* context);

  // Cancels calls in flight, waits for them, stops the poller. Idempotent.
  // Never from this queue's own poller thread.
  void Shutdown();

  // True on this queue's poller: blocking calls made from here would
  // deadlock, and the blocking wrappers check it.
  bool OnPollerThread() const { return std::this_thread::get_id() == poller_id_; }

 private:
  void Poll();

  grpc::CompletionQueue cq_;
  std::thread poller_;
  std::thread::id poller_id_;

  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::set<grpc::ClientContext*> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_CLIENT_QUEUE_H_
