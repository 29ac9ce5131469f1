#include "services/scheduler/service/active_forwarder.h"

namespace coffer::scheduler {

// A caller that set no deadline (TriggerTask with wait may take as long as
// a run) still gets one: a day.
constexpr absl::Duration kLongestForward = absl::Hours(24);

bool ActiveForwarder::WasForwarded(const grpc::ServerContext& context) {
  return context.client_metadata().count(kForwardedHeader) > 0;
}

grpc_util::AsyncClient<v1::Scheduler>& ActiveForwarder::ClientFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<grpc_util::AsyncClient<v1::Scheduler>>& client = clients_[address];
  if (client == nullptr) {
    client = std::make_unique<grpc_util::AsyncClient<v1::Scheduler>>(
        grpc_util::MakeChannel(address, security_), queue_, kLongestForward);
  }
  return *client;
}

grpc_util::CallOptions ActiveForwarder::OptionsFor(grpc_util::CallContext& context) const {
  grpc_util::CallOptions options;
  const absl::Time deadline = context.deadline();
  options.timeout = deadline == absl::InfiniteFuture()
                        ? kLongestForward
                        : std::max(deadline - absl::Now(), absl::Milliseconds(1));
  // Fail fast: an active replica that cannot be reached is said at once
  // (the caller retries, or calls the active itself) rather than after the
  // caller's whole deadline.
  options.wait_for_ready = false;
  const auto& metadata = context.server_context().client_metadata();
  auto [first, last] = metadata.equal_range("authorization");
  for (auto it = first; it != last; ++it) {
    options.metadata.emplace_back("authorization",
                                  std::string(it->second.data(), it->second.size()));
  }
  options.metadata.emplace_back(kForwardedHeader, replica_id_);
  return options;
}

}  // namespace coffer::scheduler
