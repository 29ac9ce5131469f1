// CallAuthorizer against every method of the coffer API and every kind of
// caller, table-driven from method_roles; and what its errors never say.
#include "common/grpc/auth/call_authorizer.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/grpc/auth/method_roles.h"
#include "tests/common/grpc/auth/coffer_methods.h"

namespace coffer::grpc_util::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kReadToken[] = "read-token-0123456789abcdef";
constexpr char kWrongToken[] = "wrong-token-0123456789abcdef";

class CallAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("TEST_TMPDIR");
    std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/authorizer_tokens");
    {
      std::ofstream out(path, std::ios::trunc);
      out << "admin " << kAdminToken << " ops\nread " << kReadToken << " dashboard\n";
    }
    auto store = TokenStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    authorizer_ =
        std::make_unique<CallAuthorizer>(std::shared_ptr<const TokenStore>(*std::move(store)));
  }

  // Authorizes `method` with the given "authorization" values (none, one or
  // several).
  absl::Status Call(const std::string& method, std::vector<std::string> authorization) {
    values_ = std::move(authorization);
    CallAuthorizer::Metadata metadata;
    metadata.emplace(grpc::string_ref("user-agent"), grpc::string_ref("test"));
    for (const std::string& value : values_) {
      metadata.emplace(grpc::string_ref("authorization"), grpc::string_ref(value));
    }
    return authorizer_->Authorize(method, RequiredRole(method), metadata);
  }

  std::unique_ptr<CallAuthorizer> authorizer_;
  std::vector<std::string> values_;
};

std::string Bearer(const std::string& token) { return "Bearer " + token; }

TEST_F(CallAuthorizerTest, EveryMethodAgainstEveryCaller) {
  std::vector<testing::CofferMethod> methods = testing::AllCofferMethods();
  ASSERT_FALSE(methods.empty());
  int admin_only = 0;
  for (const testing::CofferMethod& method : methods) {
    SCOPED_TRACE(method.full_name);
    std::optional<Role> needed = ClassifiedRole(method.full_name);
    ASSERT_TRUE(needed.has_value());

    absl::Status none = Call(method.full_name, {});
    EXPECT_EQ(none.code(), absl::StatusCode::kUnauthenticated) << none;
    absl::Status wrong = Call(method.full_name, {Bearer(kWrongToken)});
    EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated) << wrong;

    absl::Status read = Call(method.full_name, {Bearer(kReadToken)});
    if (*needed == Role::kAdmin) {
      ++admin_only;
      EXPECT_EQ(read.code(), absl::StatusCode::kPermissionDenied) << read;
      EXPECT_THAT(read.message(), HasSubstr(method.full_name));
      EXPECT_THAT(read.message(), HasSubstr("admin"));
    } else {
      EXPECT_TRUE(read.ok()) << read;
    }
    absl::Status admin = Call(method.full_name, {Bearer(kAdminToken)});
    EXPECT_TRUE(admin.ok()) << admin;

    for (const absl::Status& status : {none, wrong, read}) {
      for (const char* token : {kAdminToken, kReadToken, kWrongToken}) {
        EXPECT_THAT(status.message(), Not(HasSubstr(token)));
      }
    }
  }
  // Both roles occur, so neither branch above went untested.
  EXPECT_GT(admin_only, 0);
  EXPECT_LT(admin_only, static_cast<int>(methods.size()));
}

TEST_F(CallAuthorizerTest, MalformedAuthorizationIsUnauthenticated) {
  const std::string method = "/coffer.v1.Admin/GetStatus";
  for (std::vector<std::string> values : std::vector<std::vector<std::string>>{
           {kReadToken},                          // no scheme
           {"Basic " + std::string(kReadToken)},  // another scheme
           {"Bearer"},
           {"Bearer "},
           {"Bearer   "},
           {"Bearer" + std::string(kReadToken)},
           {Bearer(kReadToken), Bearer(kReadToken)},  // two tokens
           {Bearer(kReadToken), Bearer(kWrongToken)},
       }) {
    absl::Status status = Call(method, values);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << values.front();
    EXPECT_THAT(status.message(), Not(HasSubstr(kReadToken)));
    EXPECT_THAT(status.message(), Not(HasSubstr(kWrongToken)));
  }
}

TEST_F(CallAuthorizerTest, SchemeIsCaseInsensitive) {
  EXPECT_TRUE(Call("/coffer.v1.Admin/GetStatus", {"bearer " + std::string(kReadToken)}).ok());
  EXPECT_TRUE(Call("/coffer.v1.Admin/GetStatus", {"BEARER " + std::string(kReadToken)}).ok());
}

TEST_F(CallAuthorizerTest, MissingAndWrongTokensGetTheirOwnMessages) {
  absl::Status none = Call("/coffer.v1.Storage/AddAccounts", {});
  EXPECT_THAT(none.message(), HasSubstr("needs a bearer token"));
  absl::Status wrong = Call("/coffer.v1.Storage/AddAccounts", {Bearer(kWrongToken)});
  EXPECT_THAT(wrong.message(), HasSubstr("invalid bearer token"));
  // The same words for a malformed and an unknown token.
  EXPECT_EQ(wrong.message(), Call("/coffer.v1.Storage/AddAccounts", {"Basic x"}).message());
}

TEST_F(CallAuthorizerTest, OpenServicesNeedNoToken) {
  for (const std::string method :
       {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"}) {
    EXPECT_TRUE(Call(method, {}).ok()) << method;
    EXPECT_TRUE(Call(method, {Bearer(kWrongToken)}).ok()) << method;
  }
}

TEST_F(CallAuthorizerTest, UnknownMethodsNeedAdmin) {
  const std::string method = "/coffer.test.TestService/Echo";
  EXPECT_EQ(Call(method, {}).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Call(method, {Bearer(kReadToken)}).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Call(method, {Bearer(kAdminToken)}).ok());
}

}  // namespace
}  // namespace coffer::grpc_util::auth
