#include "common/client/coffer_client.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "common/grpc/auth/bearer_token.h"
#include "common/grpc/channel.h"

namespace coffer::client {

// One service's channel and the clients over it; only the client of the
// service's own API is made for it.
struct CofferClient::Channels {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc_util::AsyncClient<v1::Fetcher>> fetcher;
  std::unique_ptr<grpc_util::AsyncClient<v1::Storage>> storage;
  std::unique_ptr<grpc_util::AsyncClient<v1::Scheduler>> scheduler;
  std::unique_ptr<grpc_util::AsyncClient<v1::Admin>> admin;
  std::unique_ptr<grpc_util::AsyncClient<grpc::health::v1::Health>> health;
};

const char* ServiceName(Service service) {
  switch (service) {
    case Service::kFetcher:
      return "fetcher";
    case Service::kStorage:
      return "storage";
    case Service::kScheduler:
      return "scheduler";
  }
  return "unknown";
}

CofferClient::CofferClient(ServiceAddresses addresses, absl::Duration timeout,
                           grpc_util::ChannelSecurity security, std::string bearer_token)
    : addresses_(std::move(addresses)),
      timeout_(timeout),
      security_(std::move(security)),
      default_metadata_(bearer_token.empty()
                            ? std::vector<std::pair<std::string, std::string>>{}
                            : std::vector{grpc_util::auth::BearerMetadata(bearer_token)}),
      queue_("coffer-client") {}

CofferClient::~CofferClient() { queue_.Shutdown(); }

const std::string& CofferClient::address(Service service) const {
  switch (service) {
    case Service::kFetcher:
      return addresses_.fetcher;
    case Service::kStorage:
      return addresses_.storage;
    case Service::kScheduler:
      break;
  }
  return addresses_.scheduler;
}

CofferClient::Channels& CofferClient::ChannelsOf(Service service) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Channels>& slot = channels_[static_cast<int>(service)];
  if (slot == nullptr) {
    slot = std::make_unique<Channels>();
    slot->channel = grpc_util::MakeChannel(address(service), security_);
    switch (service) {
      case Service::kFetcher:
        slot->fetcher =
            std::make_unique<grpc_util::AsyncClient<v1::Fetcher>>(slot->channel, &queue_, timeout_);
        break;
      case Service::kStorage:
        slot->storage =
            std::make_unique<grpc_util::AsyncClient<v1::Storage>>(slot->channel, &queue_, timeout_);
        break;
      case Service::kScheduler:
        slot->scheduler = std::make_unique<grpc_util::AsyncClient<v1::Scheduler>>(
            slot->channel, &queue_, timeout_);
        break;
    }
    slot->admin =
        std::make_unique<grpc_util::AsyncClient<v1::Admin>>(slot->channel, &queue_, timeout_);
    slot->health = std::make_unique<grpc_util::AsyncClient<grpc::health::v1::Health>>(
        slot->channel, &queue_, timeout_);
    // Health is open, but one rule for every client is simpler to reason
    // about than knowing which methods need the token.
    if (slot->fetcher) slot->fetcher->SetDefaultMetadata(default_metadata_);
    if (slot->storage) slot->storage->SetDefaultMetadata(default_metadata_);
    if (slot->scheduler) slot->scheduler->SetDefaultMetadata(default_metadata_);
    slot->admin->SetDefaultMetadata(default_metadata_);
    slot->health->SetDefaultMetadata(default_metadata_);
  }
  return *slot;
}

grpc_util::AsyncClient<v1::Fetcher>& CofferClient::fetcher() {
  return *ChannelsOf(Service::kFetcher).fetcher;
}
grpc_util::AsyncClient<v1::Storage>& CofferClient::storage() {
  return *ChannelsOf(Service::kStorage).storage;
}
grpc_util::AsyncClient<v1::Scheduler>& CofferClient::scheduler() {
  return *ChannelsOf(Service::kScheduler).scheduler;
}
grpc_util::AsyncClient<v1::Admin>& CofferClient::admin(Service service) {
  return *ChannelsOf(service).admin;
}
grpc_util::AsyncClient<grpc::health::v1::Health>& CofferClient::health(Service service) {
  return *ChannelsOf(service).health;
}

grpc_util::CallOptions CofferClient::options() const { return options(timeout_); }

grpc_util::CallOptions CofferClient::options(absl::Duration timeout) const {
  grpc_util::CallOptions options;
  options.timeout = timeout;
  return options;
}

absl::Status CofferClient::Annotate(Service service, const absl::Status& status) const {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(ServiceName(service), " at ", address(service),
                                                  ": ", status.message()));
}

}  // namespace coffer::client
