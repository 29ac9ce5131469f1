// CofferClient: one place to reach a coffer stack (fetcher, storage,
// scheduler) from a tool or a test, blocking or async over the same stubs.
//
//   CofferClient coffer({.storage = "127.0.0.1:50052"});
//   // Blocking, from a thread that may block (a CLI, a test):
//   auto accounts = coffer.storage().CallBlocking(
//       &v1::Storage::Stub::PrepareAsyncListAccounts, request, coffer.options());
//   // Async, the way the services call each other: `done` runs on the
//   // client's poller thread.
//   coffer.scheduler().Stream(&v1::Scheduler::Stub::PrepareAsyncWatchRuns, watch,
//                             on_event, on_end, coffer.options());
//
// Plaintext by default; TLS or mTLS with a ChannelSecurity:
//
//   ASSIGN_OR_RETURN(grpc_util::ChannelSecurity tls,
//                    grpc_util::MakeChannelSecurity({.cert_file = "cofferctl.pem",
//                                                    .key_file = "cofferctl.key",
//                                                    .ca_file = "ca.pem"}));
//   CofferClient coffer({.storage = "storage:50052"}, absl::Seconds(10), tls);
//
// A bearer token (auth/bearer_token.h) goes with every call to every service
// when given: services started with --auth_tokens_file require one.
//
// Channels are made on first use, so a command that talks to storage alone
// never resolves the other two addresses. Every call carries the client's
// deadline unless its CallOptions say otherwise. Errors from a service are
// easier to act on with the service and address in front: Annotate().
#ifndef COFFER_COMMON_CLIENT_COFFER_CLIENT_H_
#define COFFER_COMMON_CLIENT_COFFER_CLIENT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include "coffer/v1/admin.grpc.pb.h"
#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"

namespace coffer::client {

enum class Service { kFetcher, kStorage, kScheduler };

// "fetcher", "storage", "scheduler".
const char* ServiceName(Service service);

struct ServiceAddresses {
  std::string fetcher = "127.0.0.1:50051";
  std::string storage = "127.0.0.1:50052";
  std::string scheduler = "127.0.0.1:50053";
};

class CofferClient {
 public:
  // `security` applies to the three channels (one CA, one client
  // certificate; MakeChannelSecurity in common/grpc/channel.h); its
  // server_name, when set, is checked for every service. A non-empty
  // `bearer_token` is sent as "authorization: Bearer <token>" with every
  // call of every client (a call's own CallOptions::metadata may replace it).
  explicit CofferClient(ServiceAddresses addresses, absl::Duration timeout = absl::Seconds(10),
                        grpc_util::ChannelSecurity security = {}, std::string bearer_token = {});
  CofferClient(const CofferClient&) = delete;
  CofferClient& operator=(const CofferClient&) = delete;
  // Cancels calls still in flight and joins the poller.
  ~CofferClient();

  grpc_util::AsyncClient<v1::Fetcher>& fetcher();
  grpc_util::AsyncClient<v1::Storage>& storage();
  grpc_util::AsyncClient<v1::Scheduler>& scheduler();
  grpc_util::AsyncClient<v1::Admin>& admin(Service service);
  grpc_util::AsyncClient<grpc::health::v1::Health>& health(Service service);

  const std::string& address(Service service) const;
  // The client's deadline per call, as CallOptions.
  grpc_util::CallOptions options() const;
  // The same with another deadline (long calls: a triggered run waited for).
  grpc_util::CallOptions options(absl::Duration timeout) const;
  grpc_util::ClientQueue& queue() { return queue_; }

  // "storage at 127.0.0.1:50052: <status message>", same code. OK stays OK.
  absl::Status Annotate(Service service, const absl::Status& status) const;

 private:
  struct Channels;
  Channels& ChannelsOf(Service service);

  const ServiceAddresses addresses_;
  const absl::Duration timeout_;
  const grpc_util::ChannelSecurity security_;
  // Empty when no token is sent.
  const std::vector<std::pair<std::string, std::string>> default_metadata_;
  absl::Mutex mu_;
  std::unique_ptr<Channels> channels_[3] ABSL_GUARDED_BY(mu_);
  // Last: destroyed first, so calls end before the stubs they use.
  grpc_util::ClientQueue queue_;
};

}  // namespace coffer::client

#endif  // COFFER_COMMON_CLIENT_COFFER_CLIENT_H_
