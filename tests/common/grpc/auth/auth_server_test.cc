// Bearer tokens enforced by the async server framework, over the wire: an
// in-process AsyncServer with Admin (read and admin methods), health,
// reflection and two streaming coffer methods with stand-in handlers
// (Fetcher.StreamBalances needs read, Storage.Backup admin), called with no
// token, a wrong one, a read and an admin one.
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/admin_service.h"
#include "common/grpc/async_client.h"
#include "common/grpc/async_server.h"
#include "common/grpc/auth/bearer_token.h"
#include "common/grpc/auth/call_authorizer.h"
#include "common/grpc/auth/token_store.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/health_service.h"
#include "common/log/logging.h"
#include "common/metrics/registry.h"
#include "tests/testing/reflection_client.h"

namespace coffer::testing {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kReadToken[] = "read-token-0123456789abcdef";
constexpr char kWrongToken[] = "wrong-token-0123456789abcdef";

std::shared_ptr<const grpc_util::auth::CallAuthorizer> MakeAuthorizer() {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/server_tokens");
  {
    std::ofstream out(path, std::ios::trunc);
    out << "admin " << kAdminToken << " ops\nread " << kReadToken << " dashboard\n";
  }
  auto store = grpc_util::auth::TokenStore::Open(path);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::make_shared<const grpc_util::auth::CallAuthorizer>(
      std::shared_ptr<const grpc_util::auth::TokenStore>(*std::move(store)));
}

// Stand-ins for two streaming methods: each streams `kStreamed` messages.
constexpr int kStreamed = 3;
class StreamingHandlers {
 public:
  void Register(grpc_util::AsyncServer& server) {
    server.RegisterService(&fetcher_);
    server.RegisterService(&storage_);
    COFFER_GRPC_SERVER_STREAMING(server, fetcher_, v1::Fetcher, StreamBalances, this);
    COFFER_GRPC_SERVER_STREAMING(server, storage_, v1::Storage, Backup, this);
  }
  void HandleStreamBalances(grpc_util::CallContext&, const v1::QueryBalancesRequest&,
                            grpc_util::ServerWriter<v1::StreamBalancesResponse> writer) {
    ++handled_;
    for (int i = 0; i < kStreamed; ++i) writer.Write(v1::StreamBalancesResponse());
    writer.Finish(absl::OkStatus());
  }
  void HandleBackup(grpc_util::CallContext&, const v1::BackupRequest&,
                    grpc_util::ServerWriter<v1::BackupResponse> writer) {
    ++handled_;
    for (int i = 0; i < kStreamed; ++i) writer.Write(v1::BackupResponse());
    writer.Finish(absl::OkStatus());
  }
  int handled() const { return handled_.load(); }

 private:
  v1::Fetcher::AsyncService fetcher_;
  v1::Storage::AsyncService storage_;
  std::atomic<int> handled_{0};
};

// An AsyncServer on a free loopback port with health, Admin, reflection and
// the stand-ins; with tokens unless `authorizer` is null.
class AuthTestServer {
 public:
  explicit AuthTestServer(std::shared_ptr<const grpc_util::auth::CallAuthorizer> authorizer) {
    grpc_util::AsyncServer::Options options;
    options.listen_address = "127.0.0.1:0";
    options.completion_queues = 2;
    options.registry = &registry_;
    options.authorizer = std::move(authorizer);
    server_ = std::make_unique<grpc_util::AsyncServer>(options);
    streams_.Register(*server_);
    health_.Register(*server_);
    admin_ = std::make_unique<grpc_util::AdminService>("coffer-auth-test", "test", *server_,
                                                       health_, registry_);
    admin_->Register(*server_);
    absl::Status started = server_->Start();
    EXPECT_TRUE(started.ok()) << started;
    channel_ = grpc_util::MakeChannel(absl::StrCat("127.0.0.1:", server_->port()));
  }
  ~AuthTestServer() { Shutdown(absl::Seconds(5)); }

  void Shutdown(absl::Duration grace) { server_->Shutdown(grace); }
  grpc_util::HealthService& health() { return health_; }
  metrics::Registry& registry() { return registry_; }
  const StreamingHandlers& streams() const { return streams_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  metrics::Registry registry_;
  StreamingHandlers streams_;
  grpc_util::HealthService health_{{"coffer.v1.Fetcher"}};
  std::unique_ptr<grpc_util::AsyncServer> server_;
  std::unique_ptr<grpc_util::AdminService> admin_;
  std::shared_ptr<grpc::Channel> channel_;
};

grpc_util::CallOptions As(const char* token) {
  grpc_util::CallOptions options;
  if (token != nullptr) options.metadata.push_back(grpc_util::auth::BearerMetadata(token));
  return options;
}

// Everything logged while it lives, at debug level (where refusals go).
class LogCapture {
 public:
  LogCapture() {
    log::Options options;
    options.service = "auth-test";
    options.level = "debug";
    options.sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    log::Init(options);
  }
  ~LogCapture() {
    log::Options options;
    options.service = "auth-test";
    log::Init(options);
  }
  // Only once nothing logs any more (after the server shut down).
  std::string Text() const { return stream_.str(); }

 private:
  std::ostringstream stream_;
};

class AuthServerTest : public ::testing::Test {
 protected:
  LogCapture log_;
  grpc_util::ClientQueue queue_{"auth-test-client"};
};

TEST_F(AuthServerTest, ReadMethodNeedsAValidToken) {
  AuthTestServer server(MakeAuthorizer());
  grpc_util::AsyncClient<v1::Admin> admin(server.channel(), &queue_);
  auto status = [&](const char* token) {
    return admin
        .CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest(), As(token))
        .status();
  };
  EXPECT_EQ(status(nullptr).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status(kWrongToken).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(status(kReadToken).ok()) << status(kReadToken);
  EXPECT_TRUE(status(kAdminToken).ok()) << status(kAdminToken);
}

TEST_F(AuthServerTest, AdminMethodRefusesReadWithoutRunningTheHandler) {
  AuthTestServer server(MakeAuthorizer());
  grpc_util::AsyncClient<v1::Admin> admin(server.channel(), &queue_);
  v1::SetLogLevelRequest request;
  request.set_level("critical");
  for (const char* token : {static_cast<const char*>(nullptr), kWrongToken, kReadToken}) {
    auto reply = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, request, As(token));
    EXPECT_EQ(reply.status().code(), token == kReadToken ? absl::StatusCode::kPermissionDenied
                                                         : absl::StatusCode::kUnauthenticated)
        << reply.status();
  }
  // The handler would have changed the level.
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);

  request.set_level("debug");
  auto reply =
      admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, request, As(kAdminToken));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->previous_level(), "debug");
}

// What a streaming call ended with, and how many messages it got.
template <typename Service, typename Prepare, typename Request>
std::pair<absl::Status, int> StreamAll(grpc_util::AsyncClient<Service>& client, Prepare prepare,
                                       const Request& request, const char* token) {
  auto messages = std::make_shared<std::atomic<int>>(0);
  std::promise<absl::Status> done;
  auto finished = done.get_future();
  client.Stream(
      prepare, request, [messages](const auto&) { ++*messages; },
      [&done](absl::Status status) { done.set_value(std::move(status)); }, As(token));
  absl::Status status = finished.get();
  return {status, messages->load()};
}

TEST_F(AuthServerTest, StreamingMethodsAreCheckedToo) {
  AuthTestServer server(MakeAuthorizer());
  grpc_util::AsyncClient<v1::Fetcher> fetcher(server.channel(), &queue_);
  grpc_util::AsyncClient<v1::Storage> storage(server.channel(), &queue_);
  auto balances = [&](const char* token) {
    return StreamAll(fetcher, &v1::Fetcher::Stub::PrepareAsyncStreamBalances,
                     v1::QueryBalancesRequest(), token);
  };
  auto backup = [&](const char* token) {
    return StreamAll(storage, &v1::Storage::Stub::PrepareAsyncBackup, v1::BackupRequest(), token);
  };
  using Code = absl::StatusCode;
  struct Case {
    std::pair<absl::Status, int> got;
    Code expected;
  };
  std::vector<Case> cases = {
      {balances(nullptr), Code::kUnauthenticated},
      {balances(kWrongToken), Code::kUnauthenticated},
      {balances(kReadToken), Code::kOk},
      {balances(kAdminToken), Code::kOk},
      {backup(nullptr), Code::kUnauthenticated},
      {backup(kWrongToken), Code::kUnauthenticated},
      {backup(kReadToken), Code::kPermissionDenied},
      {backup(kAdminToken), Code::kOk},
  };
  int allowed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [status, messages] = cases[i].got;
    EXPECT_EQ(status.code(), cases[i].expected) << "case " << i << ": " << status;
    EXPECT_EQ(messages, cases[i].expected == Code::kOk ? kStreamed : 0) << "case " << i;
    if (cases[i].expected == Code::kOk) ++allowed;
  }
  // Refused calls never reached a handler.
  EXPECT_EQ(server.streams().handled(), allowed);
}

TEST_F(AuthServerTest, HealthAndReflectionNeedNoToken) {
  AuthTestServer server(MakeAuthorizer());
  grpc_util::AsyncClient<Health> health(server.channel(), &queue_);
  server.health().SetServing(true);
  auto check = health.CallBlocking(&Health::Stub::PrepareAsyncCheck, HealthCheckRequest());
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->status(), HealthCheckResponse::SERVING);

  std::promise<HealthCheckResponse::ServingStatus> first;
  auto first_status = first.get_future();
  bool got_first = false;
  grpc_util::CallHandle watch = health.Stream(
      &Health::Stub::PrepareAsyncWatch, HealthCheckRequest(),
      [&](const HealthCheckResponse& update) {
        if (!std::exchange(got_first, true)) first.set_value(update.status());
      },
      [](absl::Status) {});
  EXPECT_EQ(first_status.get(), HealthCheckResponse::SERVING);
  watch.Cancel();

  absl::StatusOr<std::vector<std::string>> listed = ReflectedServices(server.channel());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_FALSE(listed->empty());
}

TEST_F(AuthServerTest, WithoutAnAuthorizerEverythingIsOpen) {
  AuthTestServer server(nullptr);
  grpc_util::AsyncClient<v1::Admin> admin(server.channel(), &queue_);
  auto status = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, {});
  EXPECT_TRUE(status.ok()) << status.status();
  v1::SetLogLevelRequest request;
  request.set_level("debug");
  auto set = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, request);
  EXPECT_TRUE(set.ok()) << set.status();
}

TEST_F(AuthServerTest, ClientDefaultMetadataCarriesTheToken) {
  AuthTestServer server(MakeAuthorizer());
  grpc_util::AsyncClient<v1::Admin> admin(server.channel(), &queue_);
  admin.SetDefaultMetadata({grpc_util::auth::BearerMetadata(kAdminToken)});
  v1::SetLogLevelRequest request;
  request.set_level("debug");
  auto set = admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, request);
  EXPECT_TRUE(set.ok()) << set.status();
  // A call's own token replaces the default rather than adding a second.
  auto as_read =
      admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, request, As(kReadToken));
  EXPECT_EQ(as_read.status().code(), absl::StatusCode::kPermissionDenied) << as_read.status();
}

TEST_F(AuthServerTest, RefusalsAreCountedAndTokensNeverLoggedNorEchoed) {
  std::vector<absl::Status> statuses;
  {
    AuthTestServer server(MakeAuthorizer());
    grpc_util::AsyncClient<v1::Admin> admin(server.channel(), &queue_);
    v1::SetLogLevelRequest request;
    request.set_level("debug");
    for (const char* token : {kWrongToken, kReadToken, kAdminToken}) {
      statuses.push_back(
          admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, request, As(token))
              .status());
    }
    grpc_util::CallOptions garbled;
    garbled.metadata.push_back({"authorization", absl::StrCat("Basic ", kAdminToken)});
    statuses.push_back(
        admin.CallBlocking(&v1::Admin::Stub::PrepareAsyncSetLogLevel, request, garbled).status());
    // Refused calls are counted by code like every other answer.
    std::string metrics = server.registry().PrometheusText();
    EXPECT_THAT(metrics, HasSubstr("UNAUTHENTICATED"));
    EXPECT_THAT(metrics, HasSubstr("PERMISSION_DENIED"));
    server.Shutdown(absl::Seconds(5));
  }
  ASSERT_EQ(statuses.size(), 4u);
  EXPECT_EQ(statuses[0].code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(statuses[1].code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(statuses[2].ok()) << statuses[2];
  EXPECT_EQ(statuses[3].code(), absl::StatusCode::kUnauthenticated);
  std::string logged = log_.Text();
  // The refusals were logged (so the capture works) ...
  EXPECT_THAT(logged, HasSubstr("refused /coffer.v1.Admin/SetLogLevel"));
  // ... without any token, in the log or in an answer.
  for (const char* token : {kAdminToken, kReadToken, kWrongToken}) {
    EXPECT_THAT(logged, Not(HasSubstr(token)));
    for (const absl::Status& status : statuses) {
      EXPECT_THAT(std::string(status.message()), Not(HasSubstr(token)));
    }
  }
}

}  // namespace
}  // namespace coffer::testing
