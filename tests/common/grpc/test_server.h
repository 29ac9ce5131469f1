// An in-process AsyncServer on a free loopback port with TestService,
// health and admin registered, and a client queue to call it with.
#ifndef COFFER_TESTS_COMMON_GRPC_TEST_SERVER_H_
#define COFFER_TESTS_COMMON_GRPC_TEST_SERVER_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "common/grpc/admin_service.h"
#include "common/grpc/async_client.h"
#include "common/grpc/async_server.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/health_service.h"
#include "common/metrics/registry.h"
#include "tests/common/grpc/test_service.h"

namespace coffer::testing {

class TestServer {
 public:
  explicit TestServer(grpc_util::AsyncServer::Options options = {}) {
    options.listen_address = "127.0.0.1:0";
    options.registry = &registry_;
    if (options.completion_queues == 0) options.completion_queues = 2;
    server_ = std::make_unique<grpc_util::AsyncServer>(options);
    service_.Register(*server_);
    health_.Register(*server_);
    admin_ = std::make_unique<grpc_util::AdminService>("coffer-test", "test", *server_, health_,
                                                       registry_);
    admin_->Register(*server_);
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
    channel_ = grpc_util::MakeChannel(absl::StrCat("127.0.0.1:", server_->port()));
  }

  ~TestServer() {
    Shutdown(absl::Seconds(5));
    service_.Shutdown();
  }

  void Shutdown(absl::Duration grace) { server_->Shutdown(grace); }

  grpc_util::AsyncServer& server() { return *server_; }
  TestServiceImpl& service() { return service_; }
  grpc_util::HealthService& health() { return health_; }
  metrics::Registry& registry() { return registry_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  metrics::Registry registry_;
  TestServiceImpl service_;
  grpc_util::HealthService health_{{"coffer.test.TestService"}};
  std::unique_ptr<grpc_util::AsyncServer> server_;
  std::unique_ptr<grpc_util::AdminService> admin_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_COMMON_GRPC_TEST_SERVER_H_
