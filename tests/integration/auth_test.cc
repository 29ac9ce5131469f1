// Bearer tokens on the real binaries: every RPC of Storage, Fetcher,
// Scheduler and each one's Admin, called with no token, a wrong one, a read
// and an admin token, answers as method_roles says; health and reflection
// need no token; and no token ever shows in a service's log.
//
// Each call sends an empty request through a generic stub: the decision is
// made before the handler, so what matters is the code. A refused call
// answers UNAUTHENTICATED or PERMISSION_DENIED; an allowed one anything
// else (the handler's own answer to an empty request, INVALID_ARGUMENT
// often, or DEADLINE_EXCEEDED for a watch that never ends).
//
// The scheduler under test uses its own storage and fetcher without tokens,
// so its answers do not depend on the token it sends (its --token_file).
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "common/grpc/auth/method_roles.h"
#include "tests/common/grpc/auth/coffer_methods.h"
#include "tests/integration/integration_test_base.h"
#include "tests/testing/reflection_client.h"

namespace coffer::testing {
namespace {

using grpc_util::auth::ClassifiedRole;
using grpc_util::auth::Role;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "it-admin-5c1f0d9e2b7a4c3d8e6f";
constexpr char kReadToken[] = "it-read-8a2e4f6c1b3d5e7f9a0b";
constexpr char kWrongToken[] = "it-wrong-0f1e2d3c4b5a69788796";

// Calls `method` with an empty message (valid for every proto3 request)
// and reads what comes back until the call ends; answers its status.
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                       const char* token) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (token != nullptr) context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  grpc::CompletionQueue cq;
  auto step = [&cq] {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  auto call = stub.PrepareCall(&context, method, &cq);
  call->StartCall(call.get());
  bool ok = step();
  grpc::Slice nothing("", 0);
  grpc::ByteBuffer request(&nothing, 1);
  if (ok) {
    call->Write(request, call.get());
    ok = step();
  }
  if (ok) {
    call->WritesDone(call.get());
    ok = step();
  }
  grpc::ByteBuffer reply;
  while (ok) {
    call->Read(&reply, call.get());
    ok = step();
  }
  grpc::Status status;
  call->Finish(&status, call.get());
  step();
  cq.Shutdown();
  void* tag = nullptr;
  bool drained_ok = false;
  while (cq.Next(&tag, &drained_ok)) {
  }
  return status;
}

bool Refused(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         status.error_code() == grpc::StatusCode::PERMISSION_DENIED;
}

class AuthTest : public IntegrationTestBase {
 protected:
  void TearDown() override {
    for (auto& process : open_) {
      if (process->Running()) StopAndExpectCleanExit(*process, SIGTERM);
    }
    IntegrationTestBase::TearDown();
  }

  std::string WriteTokens() {
    std::string path = absl::StrCat(directory(), "/tokens");
    {
      std::ofstream out(path, std::ios::trunc);
      out << "# integration test tokens\n"
          << "admin " << kAdminToken << " operator\n"
          << "read " << kReadToken << " dashboard\n";
    }
    chmod(path.c_str(), 0600);
    return path;
  }

  // A service without tokens, in a directory of its own (StartService names
  // directories after the service, and the protected one has that name).
  ServiceProcess& StartOpen(Service service, const std::string& name) {
    auto process =
        ServiceProcess::Start(name, BinaryPath(service), {}, absl::StrCat(directory(), "/", name));
    if (!process.ok()) {
      ADD_FAILURE() << "cannot start " << name << ": " << process.status();
      throw std::runtime_error("service did not start");
    }
    open_.push_back(*std::move(process));
    ServiceProcess& started = *open_.back();
    if (!WaitForHealth(started, "SERVING")) {
      ADD_FAILURE() << name << " never became SERVING:\n" << started.Log();
      throw std::runtime_error("service not serving");
    }
    return started;
  }

 private:
  std::vector<std::unique_ptr<ServiceProcess>> open_;
};

TEST_F(AuthTest, EveryRpcAgainstEveryRoleAndNoTokenInTheLogs) {
  const std::string tokens = WriteTokens();
  const std::vector<std::string> auth_args = {absl::StrCat("--auth_tokens_file=", tokens),
                                              "--log_level=debug"};
  ServiceProcess& open_storage = StartOpen(Service::kStorage, "open-storage");
  ServiceProcess& open_fetcher = StartOpen(Service::kFetcher, "open-fetcher");

  // StartService waits for grpc.health.v1 Check to say SERVING, asked
  // without a token: health is open.
  ServiceProcess& storage = StartService(Service::kStorage, auth_args);
  ServiceProcess& fetcher = StartService(Service::kFetcher, auth_args);
  std::vector<std::string> scheduler_args = auth_args;
  scheduler_args.push_back(absl::StrCat("--storage=", open_storage.address()));
  scheduler_args.push_back(absl::StrCat("--fetcher=", open_fetcher.address()));
  ServiceProcess& scheduler = StartService(Service::kScheduler, scheduler_args);

  struct Target {
    ServiceProcess* process;
    std::string service;
  };
  std::vector<Target> targets = {
      {&storage, "coffer.v1.Storage"},
      {&fetcher, "coffer.v1.Fetcher"},
      {&scheduler, "coffer.v1.Scheduler"},
  };
  int checked = 0;
  for (const Target& target : targets) {
    auto channel = grpc_util::MakeChannel(target.process->address());

    // Reflection answers without a token (grpcurl needs it).
    absl::StatusOr<std::vector<std::string>> listed = ReflectedServices(channel);
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_THAT(*listed, ::testing::Contains(target.service)) << target.process->name();

    std::vector<CofferMethod> methods = CofferMethodsOf(target.service);
    std::vector<CofferMethod> admin = CofferMethodsOf("coffer.v1.Admin");
    methods.insert(methods.end(), admin.begin(), admin.end());
    ASSERT_GT(methods.size(), 4u);
    for (const CofferMethod& method : methods) {
      SCOPED_TRACE(absl::StrCat(target.process->name(), " ", method.full_name));
      std::optional<Role> needed = ClassifiedRole(method.full_name);
      ASSERT_TRUE(needed.has_value());

      grpc::Status none = CallEmpty(channel, method.full_name, nullptr);
      EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
      grpc::Status wrong = CallEmpty(channel, method.full_name, kWrongToken);
      EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong.error_message();
      grpc::Status read = CallEmpty(channel, method.full_name, kReadToken);
      if (*needed == Role::kAdmin) {
        EXPECT_EQ(read.error_code(), grpc::StatusCode::PERMISSION_DENIED) << read.error_message();
      } else {
        EXPECT_FALSE(Refused(read)) << read.error_code() << " " << read.error_message();
      }
      grpc::Status with_admin = CallEmpty(channel, method.full_name, kAdminToken);
      EXPECT_FALSE(Refused(with_admin))
          << with_admin.error_code() << " " << with_admin.error_message();
      for (const grpc::Status& status : {none, wrong, read, with_admin}) {
        for (const char* token : {kAdminToken, kReadToken, kWrongToken}) {
          EXPECT_THAT(status.error_message(), Not(HasSubstr(token)));
        }
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 60);

  // Without --auth_tokens_file everything stays open (development).
  auto open_channel = grpc_util::MakeChannel(open_storage.address());
  EXPECT_FALSE(Refused(CallEmpty(open_channel, "/coffer.v1.Storage/ListAccounts", nullptr)));
  EXPECT_FALSE(Refused(CallEmpty(open_channel, "/coffer.v1.Admin/SetLogLevel", nullptr)));

  // Stopped first, so their logs are complete.
  for (ServiceProcess* process : {&scheduler, &fetcher, &storage}) {
    StopAndExpectCleanExit(*process, SIGTERM);
    std::string log = process->Log();
    // The log is the real one: it says tokens are required and, at debug
    // level, shows the refusals ...
    EXPECT_THAT(log, HasSubstr("bearer tokens required")) << process->name();
    EXPECT_THAT(log, HasSubstr("refused /coffer.v1.")) << process->name();
    // ... and never a token.
    for (const char* token : {kAdminToken, kReadToken, kWrongToken}) {
      EXPECT_THAT(log, Not(HasSubstr(token))) << process->name();
    }
  }
}

// At the default log level an operator sees refusals too, as warnings, but
// not one line per call: a burst of bad calls makes one line at once and is
// summed into the next (every 10 s at most).
TEST_F(AuthTest, RefusalsAreWarnedAboutWithoutFloodingTheLog) {
  ServiceProcess& storage =
      StartService(Service::kStorage, {absl::StrCat("--auth_tokens_file=", WriteTokens())});
  auto channel = grpc_util::MakeChannel(storage.address());
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(CallEmpty(channel, "/coffer.v1.Storage/ListAccounts", kWrongToken).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  StopAndExpectCleanExit(storage, SIGTERM);
  const std::string log = storage.Log();
  std::vector<std::string> refusal_lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "refused /coffer.v1.Storage/ListAccounts")) {
      refusal_lines.emplace_back(line);
    }
  }
  // 20 refusals within a few seconds: the first reported, the rest counted
  // (a second line only if the burst straddled the 10 s interval).
  ASSERT_GE(refusal_lines.size(), 1u) << log;
  EXPECT_LE(refusal_lines.size(), 2u) << log;
  EXPECT_THAT(refusal_lines[0], HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(refusal_lines[0], HasSubstr(" W "));  // warning
  EXPECT_THAT(log, Not(HasSubstr(kWrongToken)));
}

}  // namespace
}  // namespace coffer::testing
