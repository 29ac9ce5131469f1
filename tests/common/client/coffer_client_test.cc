// CofferClient against a real coffer-storage: the same stub answers a
// blocking call and an async one (whose callback runs on the client's
// poller thread), errors carry the service and its address, and a call to
// a service nobody serves fails within its deadline instead of hanging.
#include "common/client/coffer_client.h"

#include <future>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "tests/integration/integration_test_base.h"
#include "tests/testing/free_port.h"

namespace coffer::testing {
namespace {

using client::CofferClient;
using client::Service;

class CofferClientTest : public IntegrationTestBase {};

TEST_F(CofferClientTest, BlockingAndAsyncCallsShareOneStub) {
  ServiceProcess& storage = StartService(Service::kStorage);
  CofferClient coffer({.storage = storage.address()}, absl::Seconds(10));

  v1::AddAccountsRequest add;
  add.add_accounts()->set_account_id("eip155:1:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  absl::StatusOr<v1::AddAccountsResponse> added = coffer.storage().CallBlocking(
      &v1::Storage::Stub::PrepareAsyncAddAccounts, add, coffer.options());
  ASSERT_TRUE(added.ok()) << added.status();

  std::promise<std::pair<absl::StatusOr<v1::ListAccountsResponse>, bool>> listed;
  const std::thread::id test_thread = std::this_thread::get_id();
  coffer.storage().Call(
      &v1::Storage::Stub::PrepareAsyncListAccounts, v1::ListAccountsRequest(),
      [&](absl::StatusOr<v1::ListAccountsResponse> reply) {
        listed.set_value({std::move(reply), std::this_thread::get_id() != test_thread});
      },
      coffer.options());
  auto [reply, on_poller] = listed.get_future().get();
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->accounts_size(), 1);
  EXPECT_EQ(reply->accounts(0).account_id(), "eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  EXPECT_TRUE(on_poller);
}

TEST_F(CofferClientTest, ErrorsNameTheServiceAndItsAddress) {
  ServiceProcess& storage = StartService(Service::kStorage);
  CofferClient coffer({.storage = storage.address()});

  v1::AddAccountsRequest bad;
  bad.add_accounts()->set_account_id("eip155:1:0x12");
  bad.set_all_or_nothing(true);
  absl::StatusOr<v1::AddAccountsResponse> refused = coffer.storage().CallBlocking(
      &v1::Storage::Stub::PrepareAsyncAddAccounts, bad, coffer.options());
  ASSERT_FALSE(refused.ok());
  const absl::Status annotated = coffer.Annotate(Service::kStorage, refused.status());
  EXPECT_EQ(annotated.code(), refused.status().code());
  EXPECT_TRUE(absl::StartsWith(annotated.message(), "storage at " + storage.address() + ": "))
      << annotated;
  EXPECT_TRUE(coffer.Annotate(Service::kStorage, absl::OkStatus()).ok());
}

TEST_F(CofferClientTest, AServiceNobodyServesFailsWithinTheDeadline) {
  absl::StatusOr<int> port = PickUnusedPort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string nobody = "127.0.0.1:" + std::to_string(*port);
  CofferClient coffer({.fetcher = nobody}, absl::Seconds(2));

  const absl::Time start = absl::Now();
  absl::StatusOr<v1::GetStatusResponse> status =
      coffer.admin(Service::kFetcher)
          .CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest(),
                        coffer.options());
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(status.status().code() == absl::StatusCode::kUnavailable ||
              status.status().code() == absl::StatusCode::kDeadlineExceeded)
      << status.status();
  // Generous: the point is that it ends, not how fast.
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_EQ(coffer.address(Service::kFetcher), nobody);
}

}  // namespace
}  // namespace coffer::testing
