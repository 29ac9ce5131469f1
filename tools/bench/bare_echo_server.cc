// bare_echo_server: the baseline for tools/bench. It serves coffer.v1.Admin/Ping
// with nothing but gRPC's completion-queue API, the way gRPC's own async
// examples and its qps async server do, so that the framework benchmark
// compares coffer's serving path with the leanest correct server built from
// the same libraries.
//
//   bare_echo_server --listen=127.0.0.1:0 --completion_queues=2 --port_file=/tmp/p
//
// Design, and what it leaves out on purpose:
//   - N ServerCompletionQueues, one polling thread each; each queue keeps
//     `--calls_armed` RequestPing posted (one caps throughput, grpc#6504).
//     As in coffer's framework, a call that arrives re-arms at once, so calls
//     in progress are not capped by the armed count.
//   - Call objects are pooled per queue and reused, never freed while the
//     server runs: IDLE -> REQUESTED -> (Finish) FINISHING -> IDLE, back on
//     its queue's spare list, with a fresh ServerContext built in place for
//     the next call. One operation is in flight per object at a time, so its
//     own address is its tag. The pool and spare list belong to the queue's
//     poller (and to main before polling starts): no lock.
//   - Handlers answer inline on the poller: no metrics, no admission limit,
//     no cancellation hook, no std::function. Only Ping is requested; the
//     other Admin methods are never asked for and so never answered.
//   - Few outstanding tags: Debian builds libgrpc without NDEBUG, and its
//     completion queue then checks every completed tag against a list of all
//     outstanding ones (cq_check_tag, a linear scan), so each armed request
//     costs a little on every completion of its queue.
//   - Shutdown on SIGINT/SIGTERM: a per-queue flag under a mutex stops
//     re-arming, Server::Shutdown(deadline) runs on main while the pollers
//     still poll, then each queue is shut down, drained until Next returns
//     false, and its poller joined; call objects go last (grpc#8883,
//     grpc#23238).
#include <pthread.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "common/exec/termination_signal.h"

// The same names as ServiceHost's flags, so a script drives both servers alike.
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "HOST:PORT to serve on; port 0 picks a free one");
ABSL_FLAG(int, completion_queues, 0, "Completion queues, one polling thread each; 0: one per core");
ABSL_FLAG(int, calls_armed, 8,
          "RequestPing kept posted per queue (the framework's --calls_armed_per_method default)");
ABSL_FLAG(std::string, port_file, "",
          "When set, the bound port is written here once the server is serving");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "Shutdown grace period for calls in flight");
ABSL_FLAG(bool, mutex_deadlock_detection, true,
          "Leave Abseil's Mutex deadlock detection as the library was built. Debian builds Abseil "
          "without NDEBUG, so it is on, and every absl::Mutex lock (gRPC takes dozens per call) "
          "updates a global lock graph; false turns it off for this process");

namespace coffer::bench {
namespace {

using v1::Admin;
using v1::PingRequest;
using v1::PingResponse;

class PingCall;

// One queue, its poller, its pool of call objects, and the flags that keep
// operations off it once it is shut down (starting one then asserts inside
// gRPC, grpc#8883).
struct Queue {
  // Posts RequestPing with a spare call object (a new one if none is
  // spare). On the poller, or on main before polling starts.
  void ArmOne(Admin::AsyncService* service);

  std::unique_ptr<grpc::ServerCompletionQueue> cq;
  std::thread poller;
  // Every call object of this queue, and those not in use. Poller only.
  std::vector<std::unique_ptr<PingCall>> calls;
  std::vector<PingCall*> spare;

  std::mutex mu;
  bool accepting = true;  // guarded by mu; false: no new RequestPing
  bool open = true;       // guarded by mu; false: no operation at all
};

class PingCall {
 public:
  PingCall(Admin::AsyncService* service, Queue* queue) : service_(service), queue_(queue) {}

  // IDLE -> REQUESTED, unless the queue stopped accepting; returns whether
  // it did.
  bool Request() {
    std::lock_guard<std::mutex> lock(queue_->mu);
    if (!queue_->accepting) return false;
    responder_.reset();
    context_.reset();
    context_.emplace();
    responder_.emplace(&*context_);
    state_ = State::kRequested;
    service_->RequestPing(&*context_, &request_, &*responder_, queue_->cq.get(), queue_->cq.get(),
                          this);
    return true;
  }

  // On the queue's poller, with the result of the operation in flight.
  void Proceed(bool ok) {
    switch (state_) {
      case State::kRequested:
        // ok == false: the server is shutting down and this call never
        // started; nothing of it is left in the queue.
        if (!ok) {
          state_ = State::kIdle;
          return;
        }
        queue_->ArmOne(service_);
        reply_.set_payload(request_.payload());
        {
          std::lock_guard<std::mutex> lock(queue_->mu);
          if (queue_->open) {
            state_ = State::kFinishing;
            responder_->Finish(reply_, grpc::Status::OK, this);
            return;
          }
        }
        // Past the grace period the server has cancelled the call already.
        state_ = State::kIdle;
        return;
      case State::kFinishing:
        // Sent or not (ok == false: the client went away), the call is over.
        request_.Clear();
        reply_.Clear();
        state_ = State::kIdle;
        queue_->spare.push_back(this);
        return;
      case State::kIdle:
        return;
    }
  }

 private:
  enum class State { kIdle, kRequested, kFinishing };

  Admin::AsyncService* const service_;
  Queue* const queue_;
  State state_ = State::kIdle;
  PingRequest request_;
  PingResponse reply_;
  // Rebuilt for every call: a ServerContext serves one call only.
  std::optional<grpc::ServerContext> context_;
  std::optional<grpc::ServerAsyncResponseWriter<PingResponse>> responder_;
};

void Queue::ArmOne(Admin::AsyncService* service) {
  PingCall* call;
  if (spare.empty()) {
    calls.push_back(std::make_unique<PingCall>(service, this));
    call = calls.back().get();
  } else {
    call = spare.back();
    spare.pop_back();
  }
  if (!call->Request()) spare.push_back(call);
}

void Poll(Queue* queue, int index) {
  std::string name = absl::StrCat("bare-cq-", index);
  pthread_setname_np(pthread_self(), name.c_str());
  void* tag = nullptr;
  bool ok = false;
  while (queue->cq->Next(&tag, &ok)) static_cast<PingCall*>(tag)->Proceed(ok);
}

int Run() {
  int queue_count = absl::GetFlag(FLAGS_completion_queues);
  if (queue_count <= 0) queue_count = std::max(1u, std::thread::hardware_concurrency());
  const int armed = absl::GetFlag(FLAGS_calls_armed);
  if (armed < 1) {
    std::fprintf(stderr, "--calls_armed: must be at least 1\n");
    return 2;
  }

  Admin::AsyncService service;
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<Queue>> queues;
  for (int i = 0; i < queue_count; ++i) {
    queues.push_back(std::make_unique<Queue>());
    queues.back()->cq = builder.AddCompletionQueue();
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "could not listen on %s\n", listen.c_str());
    return 1;
  }

  for (auto& queue : queues) {
    for (int i = 0; i < armed; ++i) queue->ArmOne(&service);
  }
  for (int i = 0; i < queue_count; ++i) {
    queues[i]->poller = std::thread(Poll, queues[i].get(), i);
  }

  std::printf("bare_echo_server: serving on 127.0.0.1:%d with %d completion queues\n", port,
              queue_count);
  std::fflush(stdout);
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    // Written then renamed, so a reader never sees a partial file.
    const std::string temporary = port_file + ".tmp";
    std::ofstream(temporary) << port << "\n";
    std::rename(temporary.c_str(), port_file.c_str());
  }

  // SIGINT and SIGTERM were blocked in every thread before any started.
  const int signal_number = exec::WaitForTerminationSignal();

  for (auto& queue : queues) {
    std::lock_guard<std::mutex> lock(queue->mu);
    queue->accepting = false;
  }
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_shutdown_grace)));
  for (auto& queue : queues) {
    {
      std::lock_guard<std::mutex> lock(queue->mu);
      queue->open = false;
    }
    queue->cq->Shutdown();
  }
  for (auto& queue : queues) queue->poller.join();
  // Every tag has come back: now the call objects, the server and the
  // queues may go, in that order.
  for (auto& queue : queues) queue->calls.clear();
  server.reset();
  queues.clear();
  std::printf("bare_echo_server: stopped on signal %d\n", signal_number);
  return 0;
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  // First, before gRPC or anything else starts a thread, so that every thread
  // inherits the mask and only main's sigwait receives SIGTERM and SIGINT.
  coffer::exec::BlockTerminationSignals();
  // Plain absl flags, without coffer's COFFER_* environment fallbacks: a
  // benchmark's every input is on its command line.
  absl::SetProgramUsageMessage(
      "bare_echo_server: coffer.v1.Admin/Ping on gRPC's bare async API (benchmark baseline)");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  return coffer::bench::Run();
}
