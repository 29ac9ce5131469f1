// raw_insert: the ceiling for storage's snapshot writes. Inserts snapshot
// rows straight through SQLCipher's C API into a fresh encrypted database,
// in large transactions, and prints how many rows per second it committed.
//
//   raw_insert --db_path=/tmp/raw.db --db_key_file=/tmp/key --duration=5s
//
// prints one line of JSON:
//
//   {"rows_per_s":151234.5,"rows":756000,"transactions":76,"seconds":5.004,...}
//
// The database is opened by storage's own Database::Open (services/storage/
// database.h), which coffer-storage opens its file with: the same
// key handling, cipher settings (cipher_page_size 4096, kdf_iter 256000),
// WAL, synchronous = NORMAL, foreign keys, and the schema applied by the
// same migrations. So the pragmas and the schema cannot drift from the
// service's. The rows go through the pool's writer connection, one
// WriteSync per --transaction_rows rows: the pool wraps it in BEGIN
// IMMEDIATE ... COMMIT and one savepoint, which costs no I/O.
//
// What it inserts is what WriteSnapshot stores, minus everything around it:
// one snapshots row per --snapshot_items items (the foreign key needs it),
// then the items with one prepared INSERT of the very columns and values
// the service binds (tools/bench/storage/dataset.h builds them), and the
// account-history index through storage's own AddToAccountHistory (a
// snapshot listed as pending, merged in key order with others every 10,000
// items: services/storage/repos/account_history.h). No request
// parsing or validation, no idempotency or registration lookups and no
// latest_balances maintenance: those are what the service adds, and what
// the ratio of the two figures prices.
//
// --mode=history instead stores a history of refreshes for the read
// benchmark, untimed (see StoreHistory), far faster than the service can.
//
// Phases: --warmup of transactions unmeasured, then --duration measured
// (whole transactions, the last one finishing past the end counts).
// Exit status: 0, 1 when a transaction failed, 2 for bad flags.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/status/status_macros.h"
#include "services/storage/database.h"
#include "services/storage/repos/account_history.h"
#include "tools/bench/storage/dataset.h"
#include "tools/bench/storage/measurement.h"

ABSL_FLAG(std::string, db_path, "", "The database to create; must not exist");
ABSL_FLAG(std::string, db_key_file, "", "File holding the key (64 hex digits)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "Measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Unmeasured time before the measurement");
ABSL_FLAG(int, transaction_rows, 10000, "Item rows per transaction");
ABSL_FLAG(int, snapshot_items, 1000, "Item rows per snapshots row");
ABSL_FLAG(int, accounts, 1000, "Accounts the items are of");
ABSL_FLAG(int, assets, 2, "Assets per account");
ABSL_FLAG(std::string, mode, "measure",
          "measure: the timed baseline; history: store --history_refreshes refreshes of every "
          "(account, asset) as the service would have (snapshots, blocks, items), untimed, for "
          "the read benchmark to fill its database quickly");
ABSL_FLAG(int64_t, history_refreshes, 0, "history: refreshes to store (0 to N-1)");
ABSL_FLAG(int64_t, history_total_refreshes, 0,
          "history: refreshes in the whole history (the rest come through the API); dates them");
ABSL_FLAG(int64_t, history_end, 0,
          "history: unix seconds an hour after the last refresh of the whole history; 0: now");
ABSL_FLAG(int, history_snapshot_items, 10000, "history: most items per snapshot");

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kInsertSnapshot[] =
    "INSERT INTO snapshots (idempotency_key, content_hash, taken_at, written_at, run_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
// services/storage/repos/snapshots_repo.cc, InsertItem.
constexpr char kInsertItem[] =
    "INSERT INTO snapshot_items (snapshot_id, account_id, asset_id, taken_at, units, "
    "decimals, error_code, error_message, error_upstream, error_retry_after_ns, "
    "block_number, block_hash, source, fetched_at, unconfirmed_incoming_units, "
    "unconfirmed_incoming_decimals, unconfirmed_outgoing_units, "
    "unconfirmed_outgoing_decimals) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
    "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

absl::Status Sqlite(sqlite3* db, int rc, const char* what) {
  return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(db), " (", rc, ")"));
}

int64_t Nanos(const google::protobuf::Timestamp& t) { return t.seconds() * 1000000000 + t.nanos(); }

// Inserts rows on one connection; keeps the position between transactions.
class RawWriter {
 public:
  RawWriter(const Dataset& data, int snapshot_items) : snapshot_items_(snapshot_items) {
    // One template per window of distinct pairs; reused in turn, with the
    // snapshot id and times bound per use, so building rows costs nothing
    // while the clock runs.
    const int64_t windows = std::max<int64_t>(1, data.pairs() / snapshot_items);
    for (int64_t w = 0; w < windows; ++w) {
      templates_.push_back(data.Snapshot(w * snapshot_items, snapshot_items, w, absl::Now()));
    }
  }

  // Inserts `rows` item rows (and the snapshots rows they need) inside the
  // caller's transaction `tx`, and lists each finished snapshot for the
  // account-history index as WriteSnapshot does (merged with others once
  // enough are pending: storage's own code, so the index costs both the
  // same).
  absl::Status Insert(storage::db::WriteContext& tx, int rows) {
    sqlite3_stmt* snapshot = nullptr;
    sqlite3_stmt* item = nullptr;
    absl::Status status = InsertWith(tx, rows, &snapshot, &item);
    sqlite3_finalize(snapshot);
    sqlite3_finalize(item);
    return status;
  }

 private:
  absl::Status InsertWith(storage::db::WriteContext& tx, int rows, sqlite3_stmt** snapshot,
                          sqlite3_stmt** item) {
    sqlite3* db = tx.connection().raw();
    int rc = sqlite3_prepare_v2(db, kInsertSnapshot, -1, snapshot, nullptr);
    if (rc != SQLITE_OK) return Sqlite(db, rc, "prepare snapshots insert");
    rc = sqlite3_prepare_v2(db, kInsertItem, -1, item, nullptr);
    if (rc != SQLITE_OK) return Sqlite(db, rc, "prepare snapshot_items insert");
    for (int row = 0; row < rows; ++row) {
      if (next_item_ == 0) {
        ++sequence_;
        taken_at_ = absl::ToUnixNanos(absl::Now());
        const std::string key = absl::StrCat("raw-", sequence_);
        const std::string hash(32, static_cast<char>(sequence_));
        sqlite3_bind_text(*snapshot, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
        sqlite3_bind_blob(*snapshot, 2, hash.data(), static_cast<int>(hash.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(*snapshot, 3, taken_at_);
        sqlite3_bind_int64(*snapshot, 4, taken_at_);
        sqlite3_bind_text(*snapshot, 5, "", 0, SQLITE_STATIC);
        rc = sqlite3_step(*snapshot);
        if (rc != SQLITE_DONE) return Sqlite(db, rc, "insert into snapshots");
        sqlite3_reset(*snapshot);
        snapshot_id_ = sqlite3_last_insert_rowid(db);
      }
      const v1::WriteSnapshotRequest& source = templates_[sequence_ % templates_.size()];
      const v1::BalanceItem& reading = source.items(next_item_);
      sqlite3_stmt* insert = *item;
      sqlite3_bind_int64(insert, 1, snapshot_id_);
      sqlite3_bind_text(insert, 2, reading.account_id().data(),
                        static_cast<int>(reading.account_id().size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 3, reading.asset_id().data(),
                        static_cast<int>(reading.asset_id().size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 4, taken_at_);
      sqlite3_bind_text(insert, 5, reading.amount().units().data(),
                        static_cast<int>(reading.amount().units().size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 6, reading.amount().decimals());
      for (int i = 7; i <= 10; ++i) sqlite3_bind_null(insert, i);
      sqlite3_bind_int64(insert, 11, static_cast<int64_t>(reading.block_number()));
      sqlite3_bind_text(insert, 12, reading.block_hash().data(),
                        static_cast<int>(reading.block_hash().size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 13, reading.source().data(),
                        static_cast<int>(reading.source().size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 14, Nanos(reading.fetched_at()));
      for (int i = 15; i <= 18; ++i) sqlite3_bind_null(insert, i);
      rc = sqlite3_step(insert);
      if (rc != SQLITE_DONE) return Sqlite(db, rc, "insert into snapshot_items");
      sqlite3_reset(insert);
      next_item_ = (next_item_ + 1) % snapshot_items_;
      if (next_item_ == 0) {
        RETURN_IF_ERROR(storage::AddToAccountHistory(tx, snapshot_id_, snapshot_items_));
      }
    }
    return absl::OkStatus();
  }

  const int snapshot_items_;
  std::vector<v1::WriteSnapshotRequest> templates_;
  int64_t sequence_ = 0;
  int64_t snapshot_id_ = 0;
  int64_t taken_at_ = 0;
  int next_item_ = 0;
};

// Stores refreshes [0, refreshes) of every pair, each split into snapshots
// of at most `chunk` items, with the rows WriteSnapshot would store for them
// (snapshots with their counts, snapshot_blocks, snapshot_items) but without
// latest_balances: the API writes the last refresh, which sets it for every
// pair exactly as the service does.
absl::Status StoreHistory(storage::db::ConnectionPool& pool, const Dataset& data, int64_t refreshes,
                          int64_t total_refreshes, int chunk, absl::Time end) {
  // Not a measurement: a large page cache makes the random index inserts
  // cheap (the service keeps SQLite's default).
  RETURN_IF_ERROR(pool.WriteSync(
      [](storage::db::WriteContext& tx) { return tx.Execute("PRAGMA cache_size = -262144"); }));
  const int64_t chunks = (data.pairs() + chunk - 1) / chunk;
  const std::string hash(32, '\x5a');
  // Several refreshes per transaction (about 100,000 rows): each touches
  // every (account, asset) in the history index, so larger transactions
  // write each of its pages fewer times.
  const int64_t per_transaction = std::max<int64_t>(1, 100000 / data.pairs());
  for (int64_t group = 0; group < refreshes; group += per_transaction) {
    RETURN_IF_ERROR(pool.WriteSync([&](storage::db::WriteContext& tx) -> absl::Status {
      for (int64_t refresh = group; refresh < std::min(refreshes, group + per_transaction);
           ++refresh) {
        const absl::Time taken_at = Dataset::RefreshTime(end, total_refreshes, refresh);
        for (int64_t c = 0; c < chunks; ++c) {
          const int64_t first_pair = c * chunk;
          const int count = static_cast<int>(std::min<int64_t>(chunk, data.pairs() - first_pair));
          const v1::WriteSnapshotRequest request =
              data.Snapshot(first_pair, count, refresh, taken_at);
          const int64_t taken_at_nanos = absl::ToUnixNanos(taken_at);
          ASSIGN_OR_RETURN(storage::db::CachedStatement snapshot,
                           tx.Prepare("INSERT INTO snapshots (idempotency_key, content_hash, "
                                      "taken_at, written_at, run_id, items, failed_items, "
                                      "skipped_items) VALUES (?1, ?2, ?3, ?4, '', ?5, 0, 0)"));
          RETURN_IF_ERROR(snapshot->Bind(1, absl::StrCat("bench-history-", refresh, "-", c)));
          RETURN_IF_ERROR(snapshot->Bind(2, storage::db::Blob{hash}));
          RETURN_IF_ERROR(snapshot->Bind(3, taken_at_nanos));
          RETURN_IF_ERROR(snapshot->Bind(4, taken_at_nanos + 1000000000));
          RETURN_IF_ERROR(snapshot->Bind(5, count));
          RETURN_IF_ERROR(snapshot->Run());
          const int64_t snapshot_id = tx.connection().LastInsertRowId();
          ASSIGN_OR_RETURN(storage::db::CachedStatement block,
                           tx.Prepare("INSERT INTO snapshot_blocks (snapshot_id, chain_id, number, "
                                      "hash, block_time) VALUES (?1, ?2, ?3, ?4, NULL)"));
          RETURN_IF_ERROR(block->Bind(1, snapshot_id));
          RETURN_IF_ERROR(block->Bind(2, request.blocks(0).chain_id()));
          RETURN_IF_ERROR(block->Bind(3, static_cast<int64_t>(request.blocks(0).number())));
          RETURN_IF_ERROR(block->Bind(4, request.blocks(0).hash()));
          RETURN_IF_ERROR(block->Run());
          ASSIGN_OR_RETURN(storage::db::CachedStatement item, tx.Prepare(kInsertItem));
          for (const v1::BalanceItem& reading : request.items()) {
            item->Reset();
            RETURN_IF_ERROR(item->Bind(1, snapshot_id));
            RETURN_IF_ERROR(item->Bind(2, reading.account_id()));
            RETURN_IF_ERROR(item->Bind(3, reading.asset_id()));
            RETURN_IF_ERROR(item->Bind(4, taken_at_nanos));
            RETURN_IF_ERROR(item->Bind(5, reading.amount().units()));
            RETURN_IF_ERROR(item->Bind(6, static_cast<int64_t>(reading.amount().decimals())));
            for (int i = 7; i <= 10; ++i) RETURN_IF_ERROR(item->BindNull(i));
            RETURN_IF_ERROR(item->Bind(11, static_cast<int64_t>(reading.block_number())));
            RETURN_IF_ERROR(item->Bind(12, reading.block_hash()));
            RETURN_IF_ERROR(item->Bind(13, reading.source()));
            RETURN_IF_ERROR(item->Bind(14, Nanos(reading.fetched_at())));
            for (int i = 15; i <= 18; ++i) RETURN_IF_ERROR(item->BindNull(i));
            RETURN_IF_ERROR(item->Run());
          }
          RETURN_IF_ERROR(storage::AddToAccountHistory(tx, snapshot_id, count));
        }
      }
      return absl::OkStatus();
    }));
  }
  return absl::OkStatus();
}

int Run() {
  const std::string path = absl::GetFlag(FLAGS_db_path);
  const int transaction_rows = absl::GetFlag(FLAGS_transaction_rows);
  const int snapshot_items = absl::GetFlag(FLAGS_snapshot_items);
  const int accounts = absl::GetFlag(FLAGS_accounts);
  const int assets = absl::GetFlag(FLAGS_assets);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  if (path.empty() || absl::GetFlag(FLAGS_db_key_file).empty()) {
    std::fprintf(stderr, "raw_insert: --db_path and --db_key_file are required\n");
    return 2;
  }
  if (std::filesystem::exists(path)) {
    std::fprintf(stderr, "raw_insert: %s exists; the baseline needs a fresh database\n",
                 path.c_str());
    return 2;
  }
  if (transaction_rows < 1 || snapshot_items < 1 || accounts < 1 || assets < 1 ||
      duration <= absl::ZeroDuration() || warmup < absl::ZeroDuration()) {
    std::fprintf(stderr, "raw_insert: sizes and --duration must be positive\n");
    return 2;
  }
  const Dataset data(accounts, assets);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "measure" && mode != "history") {
    std::fprintf(stderr, "raw_insert: --mode must be measure or history\n");
    return 2;
  }
  if (mode == "measure" && snapshot_items > data.pairs()) {
    std::fprintf(stderr, "raw_insert: --snapshot_items %d > accounts x assets (%lld)\n",
                 snapshot_items, static_cast<long long>(data.pairs()));
    return 2;
  }

  storage::DatabaseOptions options;
  options.path = path;
  options.key_file = absl::GetFlag(FLAGS_db_key_file);
  options.readers = 1;
  absl::StatusOr<std::unique_ptr<storage::Database>> database = storage::Database::Open(options);
  if (!database.ok()) {
    std::fprintf(stderr, "raw_insert: %s\n", database.status().ToString().c_str());
    return 2;
  }
  const std::shared_ptr<storage::db::ConnectionPool> pool_handle = (*database)->pool();
  storage::db::ConnectionPool& pool = *pool_handle;

  if (mode == "history") {
    const int64_t refreshes = absl::GetFlag(FLAGS_history_refreshes);
    const int64_t total = std::max(refreshes, absl::GetFlag(FLAGS_history_total_refreshes));
    const int64_t end_seconds = absl::GetFlag(FLAGS_history_end);
    const absl::Time end = end_seconds > 0 ? absl::FromUnixSeconds(end_seconds) : absl::Now();
    const Clock::time_point start = Clock::now();
    absl::Status status =
        StoreHistory(pool, data, refreshes, total,
                     std::max(1, absl::GetFlag(FLAGS_history_snapshot_items)), end);
    (*database)->Shutdown();
    if (!status.ok()) {
      std::fprintf(stderr, "raw_insert: %s\n", status.ToString().c_str());
      return 1;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("{\"history_rows\":%lld,\"refreshes\":%lld,\"seconds\":%.3f}\n",
                static_cast<long long>(refreshes * data.pairs()), static_cast<long long>(refreshes),
                seconds);
    return 0;
  }
  RawWriter writer(data, snapshot_items);
  auto transaction = [&]() {
    return pool.WriteSync(
        [&](storage::db::WriteContext& tx) { return writer.Insert(tx, transaction_rows); });
  };

  const Clock::time_point warmup_end =
      Clock::now() + std::chrono::nanoseconds(absl::ToInt64Nanoseconds(warmup));
  while (Clock::now() < warmup_end) {
    if (absl::Status status = transaction(); !status.ok()) {
      std::fprintf(stderr, "raw_insert: %s\n", status.ToString().c_str());
      return 1;
    }
  }

  CpuWindow cpu(0);
  std::vector<int64_t> transaction_nanos;
  cpu.Start();
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::nanoseconds(absl::ToInt64Nanoseconds(duration));
  Clock::time_point now = start;
  while (now < end) {
    const Clock::time_point before = Clock::now();
    if (absl::Status status = transaction(); !status.ok()) {
      std::fprintf(stderr, "raw_insert: %s\n", status.ToString().c_str());
      return 1;
    }
    now = Clock::now();
    transaction_nanos.push_back(std::chrono::nanoseconds(now - before).count());
  }
  cpu.Stop();
  (*database)->Shutdown();

  const double seconds = std::chrono::duration<double>(now - start).count();
  const auto rows = static_cast<int64_t>(transaction_nanos.size()) * transaction_rows;
  std::sort(transaction_nanos.begin(), transaction_nanos.end());
  auto ms = [](int64_t nanos) { return static_cast<double>(nanos) / 1e6; };
  std::string json = absl::StrFormat(
      "{\"rows_per_s\":%.1f,\"rows\":%d,\"transactions\":%d,\"seconds\":%.3f,"
      "\"transaction_rows\":%d,\"p50_transaction_ms\":%.2f,\"max_transaction_ms\":%.2f",
      static_cast<double>(rows) / seconds, rows, transaction_nanos.size(), seconds,
      transaction_rows, ms(Percentile(transaction_nanos, 0.5)), ms(transaction_nanos.back()));
  json += cpu.JsonFields(seconds, "raw");
  json += "}";
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "raw_insert: snapshot rows straight through SQLCipher's C API, with storage's pragmas and "
      "schema; prints one line of JSON");
  absl::ParseCommandLine(argc, argv);
  // Storage's code logs through spdlog's default logger, which writes to
  // stdout: stdout is for the JSON line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("raw_insert"));
  return coffer::bench::Run();
}
