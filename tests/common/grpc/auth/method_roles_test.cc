// Every method of the coffer API has a role in method_roles, and the table
// names no method that does not exist. The methods come from the protobuf
// descriptors, so adding an RPC to a proto without classifying it fails here.
#include "common/grpc/auth/method_roles.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

#include "tests/common/grpc/auth/coffer_methods.h"

namespace coffer::grpc_util::auth {
namespace {

using ::testing::Optional;

TEST(MethodRolesTest, EveryCofferMethodIsClassified) {
  std::vector<testing::CofferMethod> methods = testing::AllCofferMethods();
  // Storage 30, Fetcher 5, Scheduler 13, Admin 4 when this was written: a
  // floor, so a broken descriptor lookup cannot pass by finding nothing.
  ASSERT_GE(methods.size(), 52u);
  for (const testing::CofferMethod& method : methods) {
    EXPECT_TRUE(ClassifiedRole(method.full_name).has_value())
        << method.full_name << " has no role in common/grpc/auth/method_roles.cc";
  }
}

TEST(MethodRolesTest, TableNamesOnlyExistingMethods) {
  std::set<std::string> existing;
  for (const testing::CofferMethod& method : testing::AllCofferMethods()) {
    existing.insert(method.full_name);
  }
  for (const std::string& method : ClassifiedMethods()) {
    EXPECT_TRUE(existing.count(method)) << method << " is in the table but in no proto";
  }
}

TEST(MethodRolesTest, ProtectedServicesAreExactlyTheProtoServices) {
  std::set<std::string> from_protos;
  for (const testing::CofferMethod& method : testing::AllCofferMethods()) {
    from_protos.insert(method.service);
  }
  std::set<std::string> protected_services(std::begin(kProtectedServices),
                                           std::end(kProtectedServices));
  EXPECT_EQ(from_protos, protected_services);
}

TEST(MethodRolesTest, RolesFollowTheAgreedSplit) {
  // Reads people look at need read; writes, tasks, runs, leases,
  // maintenance and SetLogLevel need admin.
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/GetPortfolio"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/GetLatestBalances"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/GetBalanceHistory"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/GetLatestPrices"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Fetcher/StreamBalances"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Admin/GetStatus"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Admin/GetMetrics"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Admin/Ping"), Optional(Role::kRead));
  EXPECT_THAT(RequiredRole("/coffer.v1.Scheduler/ListTasks"), Optional(Role::kRead));

  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/AddAccounts"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/WriteSnapshot"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/AcquireLease"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/Backup"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/Rekey"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/Prune"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Scheduler/CreateTask"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Scheduler/CancelRun"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.v1.Admin/SetLogLevel"), Optional(Role::kAdmin));
}

TEST(MethodRolesTest, HealthAndReflectionAreOpen) {
  EXPECT_EQ(RequiredRole("/grpc.health.v1.Health/Check"), std::nullopt);
  EXPECT_EQ(RequiredRole("/grpc.health.v1.Health/Watch"), std::nullopt);
  EXPECT_EQ(RequiredRole("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            std::nullopt);
  EXPECT_EQ(RequiredRole("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            std::nullopt);
}

TEST(MethodRolesTest, UnknownMethodsNeedAdmin) {
  EXPECT_THAT(RequiredRole("/coffer.v1.Storage/NotYetInTheTable"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("/coffer.test.TestService/Echo"), Optional(Role::kAdmin));
  // Not a health method just because the name starts alike.
  EXPECT_THAT(RequiredRole("/grpc.health.v1.HealthX/Check"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole("grpc.health.v1.Health/Check"), Optional(Role::kAdmin));
  EXPECT_THAT(RequiredRole(""), Optional(Role::kAdmin));
}

TEST(RoleTest, AdminGrantsEverythingReadOnlyRead) {
  EXPECT_TRUE(Grants(Role::kAdmin, Role::kAdmin));
  EXPECT_TRUE(Grants(Role::kAdmin, Role::kRead));
  EXPECT_TRUE(Grants(Role::kRead, Role::kRead));
  EXPECT_FALSE(Grants(Role::kRead, Role::kAdmin));
  EXPECT_EQ(ParseRole("read"), Role::kRead);
  EXPECT_EQ(ParseRole("admin"), Role::kAdmin);
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

}  // namespace
}  // namespace coffer::grpc_util::auth
