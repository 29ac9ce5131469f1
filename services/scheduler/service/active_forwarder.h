// ActiveForwarder: how a standby replica serves a write. Only the holder of
// the scheduler lease changes tasks and runs; a standby that knows the
// holder's advertised address passes the call on to it and relays the
// answer, so a client may call either replica, e.g. through one Kubernetes
// Service in front of both, instead of being told to go elsewhere.
//
// The caller's bearer token goes along (the active authorizes the call as
// its own), the caller's deadline and cancellation too. Unary calls and
// server streams (WatchRuns) alike. A forwarded call
// carries a mark (kForwardedHeader): the replica receiving it never forwards
// it again, so two replicas that each think the other active cannot bounce a
// call between them; it answers UNAVAILABLE instead.
//
//   ActiveForwarder forwarder(&queue, security);
//   forwarder.Forward(holder_id, holder_address, context,
//                     &v1::Scheduler::Stub::PrepareAsyncCreateTask, request, reply,
//                     std::move(done));
#ifndef COFFER_SERVICES_SCHEDULER_SERVICE_ACTIVE_FORWARDER_H_
#define COFFER_SERVICES_SCHEDULER_SERVICE_ACTIVE_FORWARDER_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "coffer/v1/scheduler.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "common/grpc/call_context.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/server_stream_call.h"
#include "common/grpc/unary_call.h"

namespace coffer::scheduler {

// The metadata that marks a call forwarded by a standby; its value is the
// forwarding replica's id (for the active's logs).
inline constexpr char kForwardedHeader[] = "coffer-forwarded-by";

class ActiveForwarder {
 public:
  template <typename Request, typename Reply>
  using Prepare = grpc_util::AsyncClient<v1::Scheduler>::UnaryPrepare<Request, Reply>;
  template <typename Request, typename Reply>
  using StreamPrepare = grpc_util::AsyncClient<v1::Scheduler>::StreamPrepare<Request, Reply>;

  // `queue` outlives this. `security` secures the calls to the active: this
  // replica's own certificate and CA, and the name checked in the active's
  // certificate (empty: the host of its address).
  ActiveForwarder(std::string replica_id, grpc_util::ClientQueue* queue,
                  grpc_util::ChannelSecurity security)
      : replica_id_(std::move(replica_id)), queue_(queue), security_(std::move(security)) {}

  ActiveForwarder(const ActiveForwarder&) = delete;
  ActiveForwarder& operator=(const ActiveForwarder&) = delete;

  // Whether the call being served came from a standby's ActiveForwarder.
  static bool WasForwarded(const grpc::ServerContext& context);

  // Calls `prepare` on the replica `active_id` at `address` with `request`,
  // the caller's deadline and token, and answers `done` with its answer
  // (filling `reply`); an error is prefixed with where it came from. An
  // unreachable active fails at once (no wait for it). Cancelling the
  // caller's call cancels the forwarded one.
  template <typename Request, typename Reply>
  void Forward(const std::string& active_id, const std::string& address,
               grpc_util::CallContext& context, Prepare<Request, Reply> prepare,
               const Request& request, Reply* reply, grpc_util::Done done) {
    grpc_util::CallHandle handle = ClientFor(address).Call(
        prepare, request,
        [reply, where = Where(active_id, address),
         done = std::move(done)](absl::StatusOr<Reply> answer) mutable {
          if (answer.ok()) *reply = *std::move(answer);
          done(Relayed(where, answer.status()));
        },
        OptionsFor(context));
    context.OnCancel([handle]() mutable { handle.Cancel(); });
  }

  // The same for a server-streaming call: every message the active replica
  // streams is written to `writer`, and its end ends the caller's stream.
  template <typename Request, typename Reply>
  void ForwardStream(const std::string& active_id, const std::string& address,
                     StreamPrepare<Request, Reply> prepare, const Request& request,
                     grpc_util::ServerWriter<Reply> writer) {
    grpc_util::CallContext& context = writer.context();
    auto relay = std::make_shared<grpc_util::ServerWriter<Reply>>(std::move(writer));
    grpc_util::CallHandle handle = ClientFor(address).Stream(
        prepare, request,
        // The writer queues what the caller has yet to take; the active
        // replica already paces and merges what it streams.
        [relay](const Reply& message) { relay->Write(message); },
        [relay, where = Where(active_id, address)](absl::Status status) mutable {
          relay->Finish(Relayed(where, status));
        },
        OptionsFor(context));
    context.OnCancel([handle]() mutable { handle.Cancel(); });
  }

 private:
  static std::string Where(const std::string& active_id, const std::string& address) {
    return absl::StrCat("forwarded to the active scheduler ", active_id, " at ", address, ": ");
  }
  // The active replica's answer as the caller gets it: an error says where
  // it came from, so a client knows which replica (or the way to it) failed.
  static absl::Status Relayed(const std::string& where, const absl::Status& status) {
    if (status.ok()) return status;
    return absl::Status(status.code(), absl::StrCat(where, status.message()));
  }
  grpc_util::AsyncClient<v1::Scheduler>& ClientFor(const std::string& address);
  // The caller's remaining time and bearer token, and the mark.
  grpc_util::CallOptions OptionsFor(grpc_util::CallContext& context) const;

  const std::string replica_id_;
  grpc_util::ClientQueue* const queue_;
  const grpc_util::ChannelSecurity security_;
  absl::Mutex mu_;
  // One client per active address seen; a handful over a process's life.
  std::map<std::string, std::unique_ptr<grpc_util::AsyncClient<v1::Scheduler>>> clients_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SERVICE_ACTIVE_FORWARDER_H_
