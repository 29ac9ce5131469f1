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
// Channels are made on first use, so a command that talks to storage alone
// never resolves the other two addresses. Every call carries the client's
// deadline unless its CallOptions say otherwise. Errors from a service are
// easier to act on with the service and address in front: Annotate().
#ifndef COFFER_COMMON_CLIENT_COFFER_CLIENT_H_
#define COFFER_COMMON_CLIENT_COFFER_CLIENT_H_

#include <memory>
#include <string>

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
  explicit CofferClient(ServiceAddresses addresses, absl::Duration timeout = absl::Seconds(10));
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
  absl::Mutex mu_;
  std::unique_ptr<Channels> channels_[3] ABSL_GUARDED_BY(mu_);
  // Last: destroyed first, so calls end before the stubs they use.
  grpc_util::ClientQueue queue_;
};

}  // namespace coffer::client

#endif  // COFFER_COMMON_CLIENT_COFFER_CLIENT_H_
