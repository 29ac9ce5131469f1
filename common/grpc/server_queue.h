// One ServerCompletionQueue and the thread that polls it.
//
// Every operation coffer starts on a server queue goes through this class, so
// that no operation is ever started on a queue after its Shutdown (which
// asserts inside gRPC, grpc#8883):
//
//   - StartRequest() arms a new call (Request<Method>); refused once the
//     server stops accepting (StopAccepting), the first step of shutdown.
//   - StartOp() starts an operation on a call that is already running
//     (Finish, Write); refused only once the queue itself is shut down.
//
// Both take a reader lock on `mu_` while they start the operation; Shutdown
// takes the writer lock to flip the flag, then shuts the queue down. So an
// operation is either started before the queue's Shutdown or not at all.
//
// The polling thread only dequeues `(tag, ok)` and calls
// CompletionTag::OnComplete; it exits when Next returns false, i.e. once the
// queue is shut down and every tag in it has been returned (grpc#23238).
#ifndef COFFER_COMMON_GRPC_SERVER_QUEUE_H_
#define COFFER_COMMON_GRPC_SERVER_QUEUE_H_

#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include <grpcpp/grpcpp.h>

#include "common/grpc/slow_handler_detector.h"

namespace coffer::grpc_util {

class ServerQueue {
 public:
  // `detector` may be null (debug mode off); it must outlive the queue.
  ServerQueue(std::unique_ptr<grpc::ServerCompletionQueue> cq, int index,
              SlowHandlerDetector* detector);
  ServerQueue(const ServerQueue&) = delete;
  ServerQueue& operator=(const ServerQueue&) = delete;
  // Requires Shutdown() and Join() to have run if polling was started.
  ~ServerQueue();

  grpc::ServerCompletionQueue* cq() { return cq_.get(); }
  int index() const { return index_; }

  // Starts the polling thread. Called once, by the server, after Start.
  void StartPolling();

  // Runs `start` (which starts one operation with a tag on this queue) unless
  // the server stopped accepting calls. Returns whether it ran. Any thread.
  [[nodiscard]] bool StartRequest(absl::FunctionRef<void()> start);

  // Runs `start` unless the queue has been shut down. Any thread.
  [[nodiscard]] bool StartOp(absl::FunctionRef<void()> start);

  // Refuses further StartRequest calls. Any thread except this queue's poller.
  void StopAccepting();

  // Refuses every further operation and shuts the queue down. Pending tags
  // keep coming back (with ok == false) until the queue is empty.
  void Shutdown();

  // Waits for the polling thread to drain the queue and exit.
  void Join();

 private:
  void Poll();

  const std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  const int index_;
  SlowHandlerDetector* const detector_;
  std::thread poller_;

  // std rather than absl::Mutex: TSan sees through it (Debian's Abseil is
  // not built for TSan). Shared for starting operations, exclusive for
  // closing.
  std::shared_mutex mu_;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_SERVER_QUEUE_H_
