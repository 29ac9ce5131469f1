// coffer-storage under kill -9 and at rest: several clients write snapshots,
// half of them in parts (WriteSnapshotPart, then the committing
// WriteSnapshot), while the process is killed (three times, at different
// moments); after a restart the database passes SQLite's integrity check,
// every acknowledged snapshot is there with all its items, none is
// half-written, a snapshot cut off between its parts is still open (no read
// sees it) with whole parts, and a retry of any write, acknowledged or cut
// off, answers the whole snapshot. And the
// files on disk, the WAL included, never hold an address or label in clear.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "tests/integration/integration_test_base.h"
#include "tests/services/storage/db/sqlcipher_test_util.h"

namespace coffer::testing {
namespace {

using storage::db::testing::QueryRows;
using storage::db::testing::TestDatabase;

using v1::Storage;

// The key the tests hand storage through --db_key_file, and open the file
// with directly.
constexpr char kKeyHex[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

constexpr int kAccounts = 20;
constexpr int kWriters = 6;
constexpr int kKillCycles = 3;
// Generous for a loaded 2-core machine under ASan: a deadline here is a
// hang, never a measurement.
constexpr absl::Duration kCallTimeout = absl::Seconds(60);
constexpr absl::Duration kAckWait = absl::Seconds(60);

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

bool FileExists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

std::string AccountId(int index) {
  return absl::StrFormat("eip155:1:0x%040x", 0xc0ffee000 + index);
}

// What one snapshot write is, rebuilt identically from its key for a retry.
struct SnapshotPlan {
  std::string key;
  int assets = 0;  // items = kAccounts * assets
  // Written as two parts and a commit holding a third each, or whole.
  bool in_parts = false;
  int items() const { return kAccounts * assets; }
  // Every ninth item is a failed reading.
  int failed_items() const { return (items() + 8) / 9; }
};

v1::WriteSnapshotRequest SnapshotRequest(const SnapshotPlan& plan) {
  v1::WriteSnapshotRequest request;
  request.set_idempotency_key(plan.key);
  int index = 0;
  for (int account = 0; account < kAccounts; ++account) {
    for (int asset = 0; asset < plan.assets; ++asset, ++index) {
      v1::BalanceItem* item = request.add_items();
      item->set_account_id(AccountId(account));
      item->set_asset_id(absl::StrCat("eip155:1/slip44:", 60 + asset));
      if (index % 9 == 0) {
        item->mutable_error()->set_code(v1::Error::UNAVAILABLE);
        item->mutable_error()->set_message(absl::StrCat("node timed out for ", plan.key));
      } else {
        item->mutable_amount()->set_units(absl::StrCat(index + 1, "000000000", plan.key.size()));
        item->mutable_amount()->set_decimals(18);
      }
    }
  }
  return request;
}

// Parted plans carry a taken_at (parts need one), the same on every retry.
constexpr int64_t kPartsTakenAtSeconds = 1700000000;

// Writes `plan`: whole, or its items' first and second thirds as parts 0
// and 1, then the commit with the last third. A part that fails ends the
// write with that error, as a scheduler's run would.
absl::StatusOr<v1::WriteSnapshotResponse> WritePlan(grpc_util::AsyncClient<Storage>& client,
                                                    const SnapshotPlan& plan,
                                                    const grpc_util::CallOptions& options) {
  v1::WriteSnapshotRequest whole = SnapshotRequest(plan);
  if (!plan.in_parts) {
    return client.CallBlocking(&Storage::Stub::PrepareAsyncWriteSnapshot, whole, options);
  }
  whole.mutable_taken_at()->set_seconds(kPartsTakenAtSeconds);
  const int third = whole.items_size() / 3;
  for (int part = 0; part < 2; ++part) {
    v1::WriteSnapshotPartRequest request;
    request.set_idempotency_key(plan.key);
    request.set_part(part);
    *request.mutable_taken_at() = whole.taken_at();
    for (int i = part * third; i < (part + 1) * third; ++i) *request.add_items() = whole.items(i);
    auto written =
        client.CallBlocking(&Storage::Stub::PrepareAsyncWriteSnapshotPart, request, options);
    if (!written.ok()) return written.status();
  }
  whole.mutable_items()->DeleteSubrange(0, 2 * third);
  whole.set_parts(2);
  return client.CallBlocking(&Storage::Stub::PrepareAsyncWriteSnapshot, whole, options);
}

// The outcome of the writes of one writer thread.
struct WriterLog {
  std::vector<SnapshotPlan> acknowledged;
  // Cut off by the kill: committed or not, but never half.
  std::vector<SnapshotPlan> in_doubt;
  // Errors while the service was meant to be up: a test failure.
  std::vector<std::string> unexpected;
};

class StorageCrashTest : public IntegrationTestBase {
 protected:
  void SetUp() override {
    key_file_ = directory() + "/db.key";
    std::ofstream(key_file_) << kKeyHex << "\n";
    ASSERT_EQ(chmod(key_file_.c_str(), 0600), 0);
  }

  ServiceProcess& StartStorage() {
    return StartService(Service::kStorage, {"--db_path=data/coffer.db",
                                            "--db_key_file=" + key_file_, "--db_readers=2"});
  }

  static std::string DatabasePath(const ServiceProcess& storage) {
    return storage.directory() + "/data/coffer.db";
  }

  void RegisterAccounts(const ServiceProcess& storage) {
    auto client = Client<Storage>(storage);
    v1::AddAccountsRequest add;
    for (int i = 0; i < kAccounts; ++i) add.add_accounts()->set_account_id(AccountId(i));
    auto added = client->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add);
    ASSERT_TRUE(added.ok()) << added.status();
    ASSERT_EQ(added->results_size(), kAccounts);
  }

  // Runs kWriters threads, each with its own channel, writing snapshots
  // until the service is killed; kills it (SIGKILL) once `acks_before_kill`
  // writes were acknowledged, plus `extra_delay` so the kill lands at a
  // different point of the writes in flight.
  void WriteUntilKilled(ServiceProcess& storage, int cycle, int acks_before_kill,
                        absl::Duration extra_delay, std::vector<WriterLog>& logs) {
    std::atomic<int> acks{0};
    std::atomic<int> running{kWriters};
    std::atomic<bool> killing{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w, client = Client<Storage>(storage)] {
        WriterLog& log = logs[w];
        grpc_util::CallOptions options;
        options.timeout = kCallTimeout;
        for (int seq = 0;; ++seq) {
          SnapshotPlan plan{absl::StrCat("crash-c", cycle, "-w", w, "-", seq),
                            10 + (w * 3 + seq) % 16,  // 200 to 500 items
                            w % 2 == 1};
          auto written = WritePlan(*client, plan, options);
          if (!written.ok()) {
            // `killing` is set before the kill, so a failure the kill caused
            // always sees it.
            if (!killing.load()) {
              log.unexpected.push_back(absl::StrCat(plan.key, ": ", written.status().ToString()));
            }
            log.in_doubt.push_back(plan);
            break;
          }
          if (written->snapshot().items() != static_cast<uint32_t>(plan.items()) ||
              written->already_written()) {
            log.unexpected.push_back(
                absl::StrCat(plan.key, ": answered ", written->ShortDebugString()));
          }
          log.acknowledged.push_back(plan);
          acks.fetch_add(1);
        }
        running.fetch_sub(1);
      });
    }
    absl::Time deadline = absl::Now() + kAckWait;
    while (acks.load() < acks_before_kill && running.load() == kWriters && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    absl::SleepFor(extra_delay);
    killing.store(true);
    EXPECT_EQ(storage.Kill(), 128 + SIGKILL) << storage.Log();
    for (std::thread& writer : writers) writer.join();
    EXPECT_GE(acks.load(), acks_before_kill) << "cycle " << cycle << ": too few writes before "
                                             << "the kill:\n"
                                             << storage.Log();
  }

  std::string key_file_;
};

TEST_F(StorageCrashTest, KilledWhileWritingKeepsEveryAcknowledgedSnapshotWhole) {
  std::random_device entropy;
  const unsigned seed = entropy();
  std::mt19937 random(seed);
  SCOPED_TRACE(absl::StrCat("random seed ", seed));

  std::vector<WriterLog> logs(kWriters);
  std::string database;
  for (int cycle = 0; cycle < kKillCycles; ++cycle) {
    ServiceProcess& storage = StartStorage();
    database = DatabasePath(storage);
    if (cycle == 0) {
      ASSERT_NO_FATAL_FAILURE(RegisterAccounts(storage));
    }
    // Early, midway, later: the kill meets the WAL at different sizes.
    const int acks_before_kill =
        std::uniform_int_distribution<int>(1 + cycle * 8, 4 + cycle * 12)(random);
    const absl::Duration extra_delay =
        absl::Milliseconds(std::uniform_int_distribution<int>(0, 40)(random));
    WriteUntilKilled(storage, cycle, acks_before_kill, extra_delay, logs);
  }

  std::map<std::string, SnapshotPlan> acknowledged;
  std::map<std::string, SnapshotPlan> in_doubt;
  for (const WriterLog& log : logs) {
    for (const std::string& error : log.unexpected) ADD_FAILURE() << error;
    for (const SnapshotPlan& plan : log.acknowledged) acknowledged.emplace(plan.key, plan);
    for (const SnapshotPlan& plan : log.in_doubt) in_doubt.emplace(plan.key, plan);
  }
  ASSERT_GE(acknowledged.size(), 3u);

  // Restarted on the same files (recovering the WAL the kill left), it
  // serves; then stopped cleanly so the file can be read directly.
  {
    ServiceProcess& storage = StartStorage();
    StopAndExpectCleanExit(storage, SIGTERM);
  }
  {
    TestDatabase db = TestDatabase::Open(database, kKeyHex);
    ASSERT_TRUE(db.status().ok()) << db.status();
    EXPECT_EQ(QueryRows(db.get(), "PRAGMA integrity_check"),
              (std::vector<std::vector<std::string>>{{"ok"}}));
    EXPECT_EQ(QueryRows(db.get(), "PRAGMA foreign_key_check").size(), 0u);

    std::map<std::string, std::pair<std::string, std::string>> stored;  // key: (items, failed)
    int open = 0;
    for (const auto& row :
         QueryRows(db.get(),
                   "SELECT s.idempotency_key, s.items, s.failed_items, "
                   "(SELECT count(*) FROM snapshot_items i WHERE i.snapshot_id = s.snapshot_id), "
                   "(SELECT count(*) FROM snapshot_items i WHERE i.snapshot_id = s.snapshot_id "
                   "AND i.error_code IS NOT NULL), s.open_since IS NOT NULL, "
                   "(SELECT coalesce(sum(p.items), 0) FROM snapshot_parts p "
                   "WHERE p.snapshot_id = s.snapshot_id) FROM snapshots s")) {
      if (row[5] == "1") {
        // Cut off between its parts: never acknowledged, and each part it
        // holds is whole.
        ++open;
        EXPECT_TRUE(in_doubt.count(row[0]) > 0 && acknowledged.count(row[0]) == 0) << row[0];
        EXPECT_EQ(row[3], row[6]) << "open snapshot " << row[0] << " holds a half-written part";
        continue;
      }
      // No snapshot half-written: its counts are those of its item rows.
      EXPECT_EQ(row[1], row[3]) << "snapshot " << row[0] << " is half-written";
      EXPECT_EQ(row[2], row[4]) << "snapshot " << row[0] << " is half-written";
      // No snapshot the clients never sent.
      EXPECT_TRUE(acknowledged.count(row[0]) > 0 || in_doubt.count(row[0]) > 0) << row[0];
      stored[row[0]] = {row[3], row[4]};
    }
    for (const auto& [key, plan] : acknowledged) {
      auto it = stored.find(key);
      ASSERT_NE(it, stored.end()) << "acknowledged snapshot " << key << " was lost";
      EXPECT_EQ(it->second.first, std::to_string(plan.items())) << key;
      EXPECT_EQ(it->second.second, std::to_string(plan.failed_items())) << key;
    }
    int committed_in_doubt = 0;
    for (const auto& [key, plan] : in_doubt) {
      auto it = stored.find(key);
      committed_in_doubt += it != stored.end();
      if (it != stored.end()) {
        EXPECT_EQ(it->second.first, std::to_string(plan.items())) << key;
      }
    }
    std::cout << acknowledged.size() << " snapshots acknowledged, " << in_doubt.size()
              << " cut off by a kill, of which " << committed_in_doubt << " committed and " << open
              << " left open between parts\n";
  }

  // Through the API: a retry of an acknowledged write answers the stored
  // snapshot, whole; a retry of a write the kill cut off completes it.
  ServiceProcess& storage = StartStorage();
  auto client = Client<Storage>(storage);
  grpc_util::CallOptions options;
  options.timeout = kCallTimeout;
  for (const auto& [key, plan] : acknowledged) {
    auto again = WritePlan(*client, plan, options);
    ASSERT_TRUE(again.ok()) << key << ": " << again.status();
    EXPECT_TRUE(again->already_written()) << key;
    EXPECT_EQ(again->snapshot().idempotency_key(), key);
    EXPECT_EQ(again->snapshot().items(), static_cast<uint32_t>(plan.items())) << key;
    EXPECT_EQ(again->snapshot().failed_items(), static_cast<uint32_t>(plan.failed_items())) << key;
  }
  for (const auto& [key, plan] : in_doubt) {
    auto again = WritePlan(*client, plan, options);
    ASSERT_TRUE(again.ok()) << key << ": " << again.status();
    EXPECT_EQ(again->snapshot().items(), static_cast<uint32_t>(plan.items())) << key;
  }
}

TEST_F(StorageCrashTest, NoAddressOrLabelInClearOnDisk) {
  // EIP-55's own test vector, so the stored (checksummed) spelling is known.
  constexpr char kLower[] = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";
  constexpr char kChecksummed[] = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
  constexpr char kLabel[] = "Aunt Matilda's cold storage 7Q";

  ServiceProcess& storage = StartStorage();
  auto client = Client<Storage>(storage);
  v1::AddAccountsRequest add;
  v1::Account* account = add.add_accounts();
  account->set_account_id(absl::StrCat("eip155:1:", kLower));
  account->set_label(kLabel);
  auto added = client->CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, add);
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_EQ(added->results(0).account().account_id(), absl::StrCat("eip155:1:", kChecksummed));

  v1::WriteSnapshotRequest write;
  write.set_idempotency_key("plaintext-check");
  v1::BalanceItem* item = write.add_items();
  item->set_account_id(absl::StrCat("eip155:1:", kChecksummed));
  item->set_asset_id("eip155:1/slip44:60");
  item->mutable_amount()->set_units("1234500000000000000");
  item->mutable_amount()->set_decimals(18);
  auto written = client->CallBlocking(&Storage::Stub::PrepareAsyncWriteSnapshot, write);
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->snapshot().items(), 1u);

  // The address without its 0x too, in both spellings and upper case.
  const std::vector<std::string> secrets = {kLower + 2, kChecksummed + 2,
                                            absl::AsciiStrToUpper(std::string(kLower + 2)), kLabel};
  const std::string database = DatabasePath(storage);
  auto expect_no_secrets = [&](const std::string& path) {
    std::string bytes = ReadBytes(path);
    for (const std::string& secret : secrets) {
      EXPECT_FALSE(absl::StrContains(bytes, secret)) << secret << " in clear in " << path;
    }
    return bytes.size();
  };

  // Running: the latest writes are still in the WAL.
  EXPECT_GT(expect_no_secrets(database), 0u);
  EXPECT_GT(expect_no_secrets(database + "-wal"), 0u) << "nothing in the WAL to check";
  expect_no_secrets(database + "-shm");

  StopAndExpectCleanExit(storage, SIGTERM);
  EXPECT_GT(expect_no_secrets(database), 0u);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    if (FileExists(database + suffix)) expect_no_secrets(database + suffix);
  }
  // Still readable with the key: the search above ran over real content.
  TestDatabase db = TestDatabase::Open(database, kKeyHex);
  ASSERT_TRUE(db.status().ok()) << db.status();
  EXPECT_EQ(QueryRows(db.get(), "SELECT label FROM accounts"),
            (std::vector<std::vector<std::string>>{{kLabel}}));
}

}  // namespace
}  // namespace coffer::testing
