// What the storage repositories' tests share: a fresh encrypted database at
// the current schema behind a real ConnectionPool, synchronous Read/Write on
// it, and builders for accounts, snapshots and leases.
#ifndef COFFER_TESTS_SERVICES_STORAGE_REPOS_REPO_TEST_BASE_H_
#define COFFER_TESTS_SERVICES_STORAGE_REPOS_REPO_TEST_BASE_H_

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection.h"
#include "services/storage/db/connection_pool.h"
#include "services/storage/db/migrations.h"
#include "services/storage/repos/accounts_repo.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/schema/schema.h"

namespace coffer::storage {

inline constexpr char kEth[] = "eip155:1/slip44:60";
inline constexpr char kUsdc[] = "eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
inline const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// The lease scheduler writes are fenced with: PutLease(kLease, kHolder,
// kEpoch, ...) grants it, CurrentFence() carries it.
inline constexpr char kLease[] = "scheduler";
inline constexpr char kHolder[] = "replica-1";
inline constexpr int64_t kEpoch = 3;

inline v1::Fence CurrentFence() {
  v1::Fence fence;
  fence.set_lease_name(kLease);
  fence.set_holder_id(kHolder);
  fence.set_epoch(kEpoch);
  return fence;
}

inline google::protobuf::Timestamp At(absl::Time time) {
  return ToTimestamp(absl::ToUnixNanos(time));
}

inline std::string RandomKeyHex() {
  std::random_device random;
  std::string hex;
  for (int i = 0; i < 64; ++i) hex.push_back("0123456789abcdef"[random() % 16]);
  return hex;
}

// An EVM account id on chain `chain` whose address is the number `n`.
inline std::string EvmId(int n, int chain = 1) {
  return absl::StrFormat("eip155:%d:0x%040d", chain, n);
}

inline v1::BalanceItem* AddAmount(v1::WriteSnapshotRequest* request, const std::string& account,
                                  const std::string& asset, const std::string& units,
                                  uint32_t decimals = 18) {
  v1::BalanceItem* item = request->add_items();
  item->set_account_id(account);
  item->set_asset_id(asset);
  item->mutable_amount()->set_units(units);
  item->mutable_amount()->set_decimals(decimals);
  return item;
}

inline v1::BalanceItem* AddError(v1::WriteSnapshotRequest* request, const std::string& account,
                                 const std::string& asset, const std::string& message) {
  v1::BalanceItem* item = request->add_items();
  item->set_account_id(account);
  item->set_asset_id(asset);
  item->mutable_error()->set_code(v1::Error::UNAVAILABLE);
  item->mutable_error()->set_message(message);
  item->mutable_error()->set_upstream("mainnet-1");
  return item;
}

inline v1::WriteSnapshotRequest Request(const std::string& key, int64_t taken_at_seconds) {
  v1::WriteSnapshotRequest request;
  request.set_idempotency_key(key);
  request.mutable_taken_at()->set_seconds(taken_at_seconds);
  return request;
}

class RepoTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = getenv("TEST_TMPDIR");
    // A parameterized suite's name holds a '/'.
    path_ =
        absl::StrCat(dir != nullptr ? dir : "/tmp", "/",
                     absl::StrReplaceAll(
                         ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name(),
                         {{"/", "-"}}),
                     ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((path_ + suffix).c_str());
    const std::string key = RandomKeyHex();
    {
      absl::StatusOr<std::unique_ptr<db::Connection>> connection =
          db::Connection::Open(path_, db::SecretString(std::string(key)), {});
      ASSERT_TRUE(connection.ok()) << connection.status();
      ASSERT_TRUE(db::ApplyMigrations((*connection)->raw(), path_, key, Migrations()).ok());
    }
    db::ConnectionPoolOptions options;
    options.path = path_;
    options.readers = 2;
    absl::StatusOr<std::unique_ptr<db::ConnectionPool>> pool =
        db::ConnectionPool::Open(options, db::SecretString(std::string(key)));
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }
  void TearDown() override {
    if (pool_ != nullptr) pool_->Shutdown();
  }

  // The work's own outcome, after its transaction committed (or not).
  absl::Status Write(db::ConnectionPool::WriteWork work) {
    return pool_->WriteSync(std::move(work));
  }
  absl::Status Read(db::ConnectionPool::ReadWork work) { return pool_->ReadSync(std::move(work)); }

  // Registers accounts by id, with `tags` each; expects success.
  void AddIds(const std::vector<std::string>& ids, const std::vector<std::string>& tags = {}) {
    v1::AddAccountsRequest request;
    for (const std::string& id : ids) {
      v1::Account* account = request.add_accounts();
      account->set_account_id(id);
      for (const std::string& tag : tags) account->add_tags(tag);
    }
    v1::AddAccountsResponse response;
    ASSERT_TRUE(Write([&](db::WriteContext& tx) {
                  return AddAccounts(tx, request, &response, kNow);
                }).ok());
  }
  int64_t Count(const std::string& table) {
    int64_t count = -1;
    absl::Status status = Read([&](db::ReadContext& tx) -> absl::Status {
      absl::StatusOr<db::CachedStatement> select =
          tx.Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table));
      if (!select.ok()) return select.status();
      absl::StatusOr<bool> row = (*select)->Step();
      if (!row.ok()) return row.status();
      count = (*select)->ColumnInt64(0);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return count;
  }
  void PutLease(const std::string& name, const std::string& holder, int64_t epoch,
                absl::Time expires) {
    ASSERT_TRUE(Write([&](db::WriteContext& tx) -> absl::Status {
                  absl::StatusOr<db::CachedStatement> insert = tx.Prepare(
                      "INSERT OR REPLACE INTO leases (name, holder_id, epoch, acquired_at, "
                      "renewed_at, expires_at) VALUES (?1, ?2, ?3, 0, 0, ?4)");
                  if (!insert.ok()) return insert.status();
                  absl::Status status = (*insert)->Bind(1, name);
                  if (status.ok()) status = (*insert)->Bind(2, holder);
                  if (status.ok()) status = (*insert)->Bind(3, epoch);
                  if (status.ok()) status = (*insert)->Bind(4, absl::ToUnixNanos(expires));
                  if (status.ok()) status = (*insert)->Run();
                  return status;
                }).ok());
  }

  std::string path_;
  std::unique_ptr<db::ConnectionPool> pool_;
};

}  // namespace coffer::storage

#endif  // COFFER_TESTS_SERVICES_STORAGE_REPOS_REPO_TEST_BASE_H_
