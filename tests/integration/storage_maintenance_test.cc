// Storage's admin operations through coffer-storage's gRPC API: Backup
// streams progress and writes an encrypted, complete copy under the backup
// directory (refusing paths outside it, keeping the newest N), and Rekey
// re-encrypts the live database while the service keeps answering, after
// which only the new key opens it.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "services/storage/schema/schema.h"
#include "tests/integration/integration_test_base.h"
#include "tests/services/storage/db/sqlcipher_test_util.h"

namespace coffer::testing {
namespace {

using storage::db::testing::QueryInt;
using storage::db::testing::QueryStrings;
using storage::db::testing::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using v1::Storage;

constexpr char kKey[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr char kNewKey[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

struct BackupOutcome {
  absl::Status status;
  std::vector<v1::BackupResponse> messages;
};

class StorageMaintenanceTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    dir_ = directory() + "/storage-maintenance";
    std::filesystem::create_directories(dir_);
    WriteFile(dir_ + "/db.key", kKey);
    WriteFile(dir_ + "/new.key", kNewKey);
  }

  static void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path) << text << "\n";
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }

  absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(const std::string& key_file) {
    return Launch(Service::kStorage, "storage", {"--db_key_file=" + key_file}, dir_);
  }

  // Registers `count` accounts.
  void AddAccounts(grpc_util::AsyncClient<Storage>& client, int count) {
    v1::AddAccountsRequest add;
    for (int i = 1; i <= count; ++i) {
      add.add_accounts()->set_account_id(absl::StrFormat("eip155:1:0x%040d", i));
    }
    auto added = client.CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add);
    ASSERT_TRUE(added.ok()) << added.status();
  }

  int64_t CountAccounts(grpc_util::AsyncClient<Storage>& client) {
    v1::ListAccountsRequest list;
    list.mutable_page()->set_page_size(1000);
    auto listed = client.CallBlocking(&Storage::Stub::PrepareAsyncListAccounts, list);
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? listed->accounts_size() : -1;
  }

  BackupOutcome Backup(grpc_util::AsyncClient<Storage>& client, const v1::BackupRequest& request) {
    auto outcome = std::make_shared<BackupOutcome>();
    std::promise<void> finished;
    client.Stream(
        &Storage::Stub::PrepareAsyncBackup, request,
        [outcome](const v1::BackupResponse& message) { outcome->messages.push_back(message); },
        [outcome, &finished](absl::Status status) {
          outcome->status = std::move(status);
          finished.set_value();
        });
    finished.get_future().wait();
    return *outcome;
  }

  std::string dir_;
};

TEST_F(StorageMaintenanceTest, BackupStreamsProgressAndWritesAnEncryptedCompleteCopy) {
  auto storage = Start(dir_ + "/db.key");
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE(WaitForHealth(**storage, "SERVING")) << (*storage)->Log();
  auto client = Client<Storage>(**storage);
  AddAccounts(*client, 300);

  v1::BackupRequest request;
  request.set_path("nightly/first.db");
  request.set_pages_per_step(1);
  BackupOutcome backup = Backup(*client, request);
  ASSERT_TRUE(backup.status.ok()) << backup.status << (*storage)->Log();
  ASSERT_GE(backup.messages.size(), 1u);
  const v1::BackupResult& result = backup.messages.back().result();
  EXPECT_EQ(result.path(),
            std::filesystem::absolute(dir_ + "/data/backups/nightly/first.db").string());
  EXPECT_GT(result.size_bytes(), 0u);
  EXPECT_EQ(result.schema_version(), static_cast<uint32_t>(storage::Migrations().back().version));
  for (size_t i = 0; i + 1 < backup.messages.size(); ++i) {
    EXPECT_EQ(backup.messages[i].progress().unit(), "pages");
    EXPECT_LE(backup.messages[i].progress().done(), backup.messages[i].progress().total());
  }

  // Encrypted with the database's key, complete and sound.
  TestDatabase copy = TestDatabase::Open(result.path(), kKey);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_THAT(QueryStrings(copy.get(), "PRAGMA integrity_check"), ElementsAre("ok"));
  EXPECT_EQ(QueryInt(copy.get(), "SELECT count(*) FROM accounts"), 300);
  copy.Close();
  EXPECT_FALSE(TestDatabase::Open(result.path(), kNewKey).ok());

  // The same path again is refused unless overwrite; paths outside the
  // directory are refused by name.
  BackupOutcome again = Backup(*client, request);
  EXPECT_EQ(again.status.code(), absl::StatusCode::kAlreadyExists) << again.status;
  request.set_overwrite(true);
  EXPECT_TRUE(Backup(*client, request).status.ok());
  for (const char* bad : {"../outside.db", "/tmp/outside.db", "a//b.db"}) {
    v1::BackupRequest outside;
    outside.set_path(bad);
    BackupOutcome refused = Backup(*client, outside);
    EXPECT_EQ(refused.status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(refused.status.message()), HasSubstr("path")) << bad;
  }

  // A backup under a key of its own opens with that key only.
  v1::BackupRequest keyed;
  keyed.set_path("keyed.db");
  keyed.set_key_file(dir_ + "/new.key");
  BackupOutcome keyed_backup = Backup(*client, keyed);
  ASSERT_TRUE(keyed_backup.status.ok()) << keyed_backup.status;
  const std::string keyed_path = keyed_backup.messages.back().result().path();
  EXPECT_FALSE(TestDatabase::Open(keyed_path, kKey).ok());
  TestDatabase keyed_copy = TestDatabase::Open(keyed_path, kNewKey);
  ASSERT_TRUE(keyed_copy.ok()) << keyed_copy.status();
  EXPECT_EQ(QueryInt(keyed_copy.get(), "SELECT count(*) FROM accounts"), 300);
  keyed_copy.Close();

  // Default names, keeping the newest two.
  std::vector<std::string> written;
  for (int i = 0; i < 3; ++i) {
    v1::BackupRequest rotating;
    rotating.set_keep_last(2);
    BackupOutcome rotated = Backup(*client, rotating);
    ASSERT_TRUE(rotated.status.ok()) << rotated.status;
    written.push_back(rotated.messages.back().result().path());
    EXPECT_THAT(written.back(), HasSubstr("/data/backups/coffer-"));
    if (i < 2) {
      EXPECT_EQ(rotated.messages.back().result().deleted_size(), 0);
    } else {
      EXPECT_THAT(rotated.messages.back().result().deleted(), ElementsAre(written[0]));
    }
  }
  EXPECT_FALSE(std::filesystem::exists(written[0]));
  EXPECT_TRUE(std::filesystem::exists(written[1]));
  EXPECT_TRUE(std::filesystem::exists(written[2]));
  // Non-default names are never rotated away.
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/data/backups/nightly/first.db"));

  StopAndExpectCleanExit(**storage, SIGTERM);
}

TEST_F(StorageMaintenanceTest, RekeyReencryptsTheLiveDatabase) {
  auto storage = Start(dir_ + "/db.key");
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE(WaitForHealth(**storage, "SERVING")) << (*storage)->Log();
  auto client = Client<Storage>(**storage);
  AddAccounts(*client, 50);

  v1::RekeyRequest missing;
  EXPECT_EQ(client->CallBlocking(&Storage::Stub::PrepareAsyncRekey, missing).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::RekeyRequest rekey;
  rekey.set_new_key_file(dir_ + "/new.key");
  auto rekeyed = client->CallBlocking(&Storage::Stub::PrepareAsyncRekey, rekey);
  ASSERT_TRUE(rekeyed.ok()) << rekeyed.status() << (*storage)->Log();
  // The safety copy first, under the old key.
  ASSERT_FALSE(rekeyed->backup_path().empty());
  TestDatabase before = TestDatabase::Open(rekeyed->backup_path(), kKey);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(QueryInt(before.get(), "SELECT count(*) FROM accounts"), 50);
  before.Close();

  // The service keeps serving, on the new key, reads and writes alike.
  EXPECT_EQ(CountAccounts(*client), 50);
  AddAccounts(*client, 60);
  EXPECT_EQ(CountAccounts(*client), 60);
  StopAndExpectCleanExit(**storage, SIGTERM);

  // On disk only the new key opens it.
  const std::string db_path = dir_ + "/data/coffer.db";
  EXPECT_FALSE(TestDatabase::Open(db_path, kKey).ok());
  {
    TestDatabase after = TestDatabase::Open(db_path, kNewKey);
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(QueryInt(after.get(), "SELECT count(*) FROM accounts"), 60);
  }

  // Restarted with the old key it refuses to start; with the new one it serves.
  auto old_key = Start(dir_ + "/db.key");
  if (old_key.ok()) {
    auto code = (*old_key)->Stop(SIGTERM);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 1) << (*old_key)->Log();
  }
  auto restarted = Start(dir_ + "/new.key");
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(WaitForHealth(**restarted, "SERVING")) << (*restarted)->Log();
  auto again = Client<Storage>(**restarted);
  EXPECT_EQ(CountAccounts(*again), 60);
  StopAndExpectCleanExit(**restarted, SIGTERM);
}

}  // namespace
}  // namespace coffer::testing
