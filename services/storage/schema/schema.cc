#include "services/storage/schema/schema.h"

#include <vector>

namespace coffer::storage {
namespace {

// Version 1: the whole data model of protos/coffer/v1/storage.proto.
// Written for SQLite 3.15 (SQLCipher 3.4): no UPSERT, RETURNING or window
// functions; partial indexes and WITHOUT ROWID are available.
constexpr char kV1[] = R"sql(
-- Registered accounts (Storage.AddAccounts). The CAIP-10 id in normal form is
-- the key, so one account is spelled one way; chain_id and address are its
-- parts, kept to filter by chain without parsing ids in SQL.
CREATE TABLE accounts (
  account_id TEXT PRIMARY KEY NOT NULL,
  chain_id   TEXT NOT NULL,
  address    TEXT NOT NULL,
  label      TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
-- ListAccounts filtered by chain, in account_id order.
CREATE INDEX accounts_by_chain ON accounts (chain_id, account_id);

-- An account's tags, one row each: a set (the key dedups) that filters
-- "having every one of these tags" can join on. Goes with its account.
CREATE TABLE account_tags (
  account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
  tag        TEXT NOT NULL,
  PRIMARY KEY (account_id, tag)
) WITHOUT ROWID;
-- Accounts having a tag.
CREATE INDEX account_tags_by_tag ON account_tags (tag, account_id);

-- The CAIP-19 assets to track for an account (Account.asset_ids); none means
-- every asset the fetcher knows for the chain. Goes with its account.
CREATE TABLE account_assets (
  account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
  asset_id   TEXT NOT NULL,
  PRIMARY KEY (account_id, asset_id)
) WITHOUT ROWID;

-- One row per written snapshot (one refresh). idempotency_key makes
-- WriteSnapshot retries safe: content_hash (a digest of the request's
-- content) tells a retry with the same content (answer the stored one) from
-- a conflicting reuse of the key (ALREADY_EXISTS). Item counts are kept here
-- so listing snapshots never counts items.
CREATE TABLE snapshots (
  snapshot_id     INTEGER PRIMARY KEY,
  idempotency_key TEXT NOT NULL UNIQUE,
  content_hash    BLOB NOT NULL,
  taken_at        INTEGER NOT NULL,
  written_at      INTEGER NOT NULL,
  run_id          TEXT NOT NULL DEFAULT '',
  items           INTEGER NOT NULL DEFAULT 0 CHECK (items >= 0),
  failed_items    INTEGER NOT NULL DEFAULT 0 CHECK (failed_items >= 0),
  skipped_items   INTEGER NOT NULL DEFAULT 0 CHECK (skipped_items >= 0)
);
-- ListSnapshots over a time range, newest first; retention by age.
CREATE INDEX snapshots_by_taken_at ON snapshots (taken_at, snapshot_id);
-- Snapshots of a run.
CREATE INDEX snapshots_by_run ON snapshots (run_id) WHERE run_id != '';

-- The block each chain was read at for a snapshot (WriteSnapshotRequest
-- .blocks), at most one per chain.
CREATE TABLE snapshot_blocks (
  snapshot_id INTEGER NOT NULL REFERENCES snapshots (snapshot_id) ON DELETE CASCADE,
  chain_id    TEXT NOT NULL,
  number      INTEGER NOT NULL CHECK (number >= 0),
  hash        TEXT NOT NULL DEFAULT '',
  block_time  INTEGER,
  PRIMARY KEY (snapshot_id, chain_id)
) WITHOUT ROWID;

-- One reading of one (account, asset) in one snapshot: a value or an error,
-- never both and never neither (the CHECK), so a balance that could not be
-- read is never stored as zero. account_id has no foreign key on purpose:
-- history outlives a removed account unless RemoveAccounts is asked to
-- delete it. taken_at is copied from the snapshot so history reads use one
-- index without a join.
CREATE TABLE snapshot_items (
  item_id        INTEGER PRIMARY KEY,
  snapshot_id    INTEGER NOT NULL REFERENCES snapshots (snapshot_id) ON DELETE CASCADE,
  account_id     TEXT NOT NULL,
  asset_id       TEXT NOT NULL,
  taken_at       INTEGER NOT NULL,
  -- The value: decimal digits (up to 78 for a uint256) and the asset's decimals.
  units          TEXT,
  decimals       INTEGER CHECK (decimals BETWEEN 0 AND 255),
  -- The error: a coffer.v1.Error.Code (never 0), its message and upstream.
  error_code     INTEGER CHECK (error_code BETWEEN 1 AND 16),
  error_message  TEXT,
  error_upstream TEXT,
  error_retry_after_ns INTEGER,
  -- Where the reading came from (BalanceItem).
  block_number   INTEGER,
  block_hash     TEXT NOT NULL DEFAULT '',
  source         TEXT NOT NULL DEFAULT '',
  fetched_at     INTEGER,
  -- Bitcoin only: unconfirmed (mempool) sums, (units, decimals) each.
  unconfirmed_incoming_units    TEXT,
  unconfirmed_incoming_decimals INTEGER,
  unconfirmed_outgoing_units    TEXT,
  unconfirmed_outgoing_decimals INTEGER,
  UNIQUE (snapshot_id, account_id, asset_id),
  CHECK ((units IS NOT NULL AND decimals IS NOT NULL AND error_code IS NULL
          AND error_message IS NULL AND error_upstream IS NULL
          AND error_retry_after_ns IS NULL)
      OR (units IS NULL AND decimals IS NULL AND error_code IS NOT NULL
          AND error_message IS NOT NULL AND error_upstream IS NOT NULL))
);
-- GetBalanceHistory of one account (and asset) over time. Replaced by
-- snapshot_items_by_account_time in version 2.
CREATE INDEX snapshot_items_by_account_asset_time
  ON snapshot_items (account_id, asset_id, taken_at);
-- GetBalanceHistory of one asset over all accounts over time.
CREATE INDEX snapshot_items_by_asset_time ON snapshot_items (asset_id, taken_at);
-- (snapshot_id, account_id, asset_id) is covered by the UNIQUE constraint:
-- GetSnapshot's items in order, and the cascade when a snapshot is deleted.

-- The latest reading of each (account, asset), maintained by WriteSnapshot
-- in the same transaction, so "latest balances" and the portfolio read one
-- row per (account, asset) instead of searching history. It keeps both the
-- latest reading (last_item_id, with its error when it failed) and the last
-- successful one (value_*), so one failing chain never blanks a balance.
-- The references to snapshot_items (no cascade) make deleting an item that
-- latest balances still need fail: Prune must keep them.
CREATE TABLE latest_balances (
  account_id        TEXT NOT NULL,
  asset_id          TEXT NOT NULL,
  -- The latest reading, failed or not, and its snapshot's taken_at.
  last_item_id      INTEGER NOT NULL REFERENCES snapshot_items (item_id),
  last_attempt_at   INTEGER NOT NULL,
  -- The latest successful reading; all NULL when none ever succeeded.
  value_item_id     INTEGER REFERENCES snapshot_items (item_id),
  value_snapshot_id INTEGER,
  units             TEXT,
  decimals          INTEGER,
  as_of             INTEGER,
  block_number      INTEGER,
  -- The latest reading's error; all NULL when it succeeded.
  error_code        INTEGER CHECK (error_code BETWEEN 1 AND 16),
  error_message     TEXT,
  error_upstream    TEXT,
  PRIMARY KEY (account_id, asset_id),
  CHECK ((value_item_id IS NULL) = (units IS NULL)),
  CHECK ((units IS NULL) = (decimals IS NULL) AND (units IS NULL) = (as_of IS NULL)),
  CHECK ((error_code IS NULL) = (error_message IS NULL))
) WITHOUT ROWID;
-- Latest balances of one asset (portfolio, filters by asset).
CREATE INDEX latest_balances_by_asset ON latest_balances (asset_id, account_id);
-- Foreign key checks when snapshot items are deleted (Prune, RemoveAccounts
-- with delete_history) would scan the table without these.
CREATE INDEX latest_balances_by_last_item ON latest_balances (last_item_id);
CREATE INDEX latest_balances_by_value_item ON latest_balances (value_item_id);

-- Prices of whole units of assets in quote currencies (WritePrices). The key
-- is (asset_id, quote_currency, price_time): a price for the same key
-- replaces the stored one (INSERT OR REPLACE), and the key's index serves
-- latest-price (MAX(price_time)) and price-history range reads.
CREATE TABLE prices (
  asset_id       TEXT NOT NULL,
  quote_currency TEXT NOT NULL,
  price_time     INTEGER NOT NULL,
  units          TEXT NOT NULL,
  decimals       INTEGER NOT NULL CHECK (decimals BETWEEN 0 AND 255),
  source         TEXT NOT NULL DEFAULT '',
  written_at     INTEGER NOT NULL,
  PRIMARY KEY (asset_id, quote_currency, price_time)
) WITHOUT ROWID;

-- Task definitions the scheduler runs. What only the scheduler interprets
-- (description, params, schedule, run retention) is the serialized
-- coffer.v1.Task in definition; what storage queries or updates in its own
-- transactions (kind, pause state, next run, failures, last run, revision
-- for UpdateTaskDefinition's expected_revision) are columns.
CREATE TABLE tasks (
  task_id              TEXT PRIMARY KEY NOT NULL,
  kind                 INTEGER NOT NULL CHECK (kind > 0),
  definition           BLOB NOT NULL,
  paused               INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
  status_note          TEXT NOT NULL DEFAULT '',
  paused_at            INTEGER,
  next_run_time        INTEGER,
  consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  last_run_id          TEXT NOT NULL DEFAULT '',
  last_run_state       INTEGER NOT NULL DEFAULT 0,
  last_run_finished_at INTEGER,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  revision             INTEGER NOT NULL DEFAULT 1 CHECK (revision > 0)
) WITHOUT ROWID;
-- ListTaskDefinitions filtered by kind.
CREATE INDEX tasks_by_kind ON tasks (kind, task_id);

-- Run records (StartRun, FinishRun). task_id has no foreign key on purpose:
-- DeleteTaskDefinition may keep a deleted task's runs. counts (RunCounts),
-- error_summary (the Run message holding only its error_summary) and
-- progress (Progress) are serialized messages: only ever read whole.
CREATE TABLE runs (
  run_id           TEXT PRIMARY KEY NOT NULL,
  task_id          TEXT NOT NULL,
  task_kind        INTEGER NOT NULL,
  state            INTEGER NOT NULL CHECK (state > 0),
  run_trigger      INTEGER NOT NULL DEFAULT 0,
  forced           INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),
  coalesced        INTEGER NOT NULL DEFAULT 0 CHECK (coalesced >= 0),
  scheduled_for    INTEGER,
  started_at       INTEGER NOT NULL,
  finished_at      INTEGER,
  holder_id        TEXT NOT NULL DEFAULT '',
  lease_epoch      INTEGER NOT NULL DEFAULT 0,
  counts           BLOB,
  error_code       INTEGER CHECK (error_code BETWEEN 1 AND 16),
  error_message    TEXT,
  error_upstream   TEXT,
  error_summary    BLOB,
  snapshot_id      TEXT NOT NULL DEFAULT '',
  progress         BLOB,
  cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1))
) WITHOUT ROWID;
-- A task's runs, newest first; run retention per task.
CREATE INDEX runs_by_task_started ON runs (task_id, started_at);
-- ListRunRecords across tasks, newest first.
CREATE INDEX runs_by_started ON runs (started_at);
-- At most one RUNNING (coffer.v1.RunState 2) run per task, enforced by the
-- database itself: StartRun's "no overlap" holds even across replicas, and
-- AbandonRuns finds running runs without a scan.
CREATE UNIQUE INDEX runs_one_running_per_task ON runs (task_id) WHERE state = 2;

-- Leases electing the active scheduler replica. The row outlives a release
-- (holder_id '' and expires_at in the past) so epoch keeps growing across
-- grants; expiry is judged by storage's clock against expires_at. Writes
-- carrying a Fence are checked against this row in their own transaction.
CREATE TABLE leases (
  name           TEXT PRIMARY KEY NOT NULL,
  holder_id      TEXT NOT NULL,
  holder_address TEXT NOT NULL DEFAULT '',
  epoch          INTEGER NOT NULL CHECK (epoch > 0),
  acquired_at    INTEGER NOT NULL,
  renewed_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 2: GetBalanceHistory of one account read in the query's order.
// (account_id, asset_id, taken_at) made an account's history of all its
// assets read and sort every row of the account in the range before the
// first point (p99 16 ms at 1M rows, 500 readings per account and asset).
// (account_id, taken_at, snapshot_id, asset_id) is the query's ORDER BY once
// account_id is fixed, so account-only and account+asset history pages read
// only as far as the page goes. It replaces the old index instead of being
// added beside it: every written item pays for each index on snapshot_items.
// The trade-off: one asset of an account is found among the account's
// readings of all its assets in time order, so such a page steps over
// (assets of the account) x (page size) index entries (the asset is checked
// in the entry, the table row is read only for a match): a few times a page
// for a few assets, never the whole range, but an account holding hundreds
// of assets would make one asset's history that many times slower than a
// dedicated (account_id, asset_id, taken_at) index. RemoveAccounts'
// delete_history (account_id alone) uses it too.
constexpr char kV2[] = R"sql(
DROP INDEX snapshot_items_by_account_asset_time;
CREATE INDEX snapshot_items_by_account_time
  ON snapshot_items (account_id, taken_at, snapshot_id, asset_id);
)sql";

// Version 3: latest_balances without references to snapshot_items. Every
// written item rewrites its latest_balances row; the two item-id indexes
// that let the foreign keys check deletions of snapshot items were rewritten
// with it, and with the foreign-key checks themselves made maintaining
// latest balances cost more than writing the items (tools/bench/storage:
// 40% of the writer's time per item). Nothing is lost in safety that a test
// does not hold instead: Prune and RemoveAccounts keep the items latest
// balances need by looking them up through latest_balances' own key (an
// item can only be referred to by the row of its own account and asset).
// SQLite cannot drop a constraint, so the table is rebuilt.
constexpr char kV3[] = R"sql(
CREATE TABLE latest_balances_v3 (
  account_id        TEXT NOT NULL,
  asset_id          TEXT NOT NULL,
  last_item_id      INTEGER NOT NULL,
  last_attempt_at   INTEGER NOT NULL,
  value_item_id     INTEGER,
  value_snapshot_id INTEGER,
  units             TEXT,
  decimals          INTEGER,
  as_of             INTEGER,
  block_number      INTEGER,
  error_code        INTEGER CHECK (error_code BETWEEN 1 AND 16),
  error_message     TEXT,
  error_upstream    TEXT,
  PRIMARY KEY (account_id, asset_id),
  CHECK ((value_item_id IS NULL) = (units IS NULL)),
  CHECK ((units IS NULL) = (decimals IS NULL) AND (units IS NULL) = (as_of IS NULL)),
  CHECK ((error_code IS NULL) = (error_message IS NULL))
) WITHOUT ROWID;
INSERT INTO latest_balances_v3 (account_id, asset_id, last_item_id, last_attempt_at,
    value_item_id, value_snapshot_id, units, decimals, as_of, block_number, error_code,
    error_message, error_upstream)
  SELECT account_id, asset_id, last_item_id, last_attempt_at, value_item_id,
    value_snapshot_id, units, decimals, as_of, block_number, error_code, error_message,
    error_upstream
  FROM latest_balances;
DROP TABLE latest_balances;
ALTER TABLE latest_balances_v3 RENAME TO latest_balances;
CREATE INDEX latest_balances_by_asset ON latest_balances (asset_id, account_id);
)sql";

// Version 4: the account-history index written in batches. Every snapshot
// touches one leaf of an (account, time) index per account it holds: a
// 1,000-item snapshot over 500 accounts rewrote ~500 encrypted index pages,
// against ~75 for the items themselves, and a lone writer committing one
// snapshot at a time paid that in full (tools/bench/storage: 1.05 pages per
// row; without the index 0.22). So the index becomes a table filled in
// batches: a snapshot's items are listed in account_history_pending when
// written, and moved into account_history, sorted, once the pending hold
// enough items or snapshots (services/storage/repos/account_history.h), so
// one pass dirties each leaf once for many snapshots. Readers take the
// merged history from account_history and the few pending snapshots through
// the (snapshot_id, account_id, asset_id) key of snapshot_items.
//
// account_history follows deletions of items through a trigger (Prune's
// cascade from snapshots, RemoveAccounts' delete_history), so it never names
// an item that is gone, and an item id SQLite hands out again after a delete
// is never read as history it is not. Pending rows go with their snapshot.
constexpr char kV4[] = R"sql(
CREATE TABLE account_history (
  account_id  TEXT NOT NULL,
  taken_at    INTEGER NOT NULL,
  snapshot_id INTEGER NOT NULL,
  asset_id    TEXT NOT NULL,
  item_id     INTEGER NOT NULL,
  PRIMARY KEY (account_id, taken_at, snapshot_id, asset_id)
) WITHOUT ROWID;
CREATE TABLE account_history_pending (
  snapshot_id INTEGER PRIMARY KEY REFERENCES snapshots (snapshot_id) ON DELETE CASCADE,
  items       INTEGER NOT NULL CHECK (items >= 0)
);
CREATE TRIGGER account_history_follows_item_deletes AFTER DELETE ON snapshot_items
BEGIN
  DELETE FROM account_history WHERE account_id = OLD.account_id AND taken_at = OLD.taken_at
    AND snapshot_id = OLD.snapshot_id AND asset_id = OLD.asset_id;
END;
INSERT INTO account_history (account_id, taken_at, snapshot_id, asset_id, item_id)
  SELECT account_id, taken_at, snapshot_id, asset_id, item_id FROM snapshot_items
  ORDER BY account_id, taken_at, snapshot_id, asset_id;
DROP INDEX snapshot_items_by_account_time;
)sql";

// Version 5: the account-history merge in chunks, off the write path
// (services/storage/repos/account_history.h). Merging every pending
// snapshot inside the write that reached the threshold cost a 10,000-item
// WriteSnapshot ~20 ms plus most of its 75 ms commit, growing with history;
// the writer now merges in its idle time, a few thousand items per
// transaction, so a write arriving meanwhile waits for one chunk only. A
// pending snapshot's items with account_id < merged_below are already in
// account_history (readers skip them); '' is none, as for every snapshot
// pending before this version.
constexpr char kV5[] = R"sql(
ALTER TABLE account_history_pending ADD COLUMN merged_below TEXT NOT NULL DEFAULT '';
)sql";

// Version 6: snapshots written in parts (Storage.WriteSnapshotPart). A
// refresh hands its items over while it still reads the rest, so the write
// of 10,000 items no longer waits for the last batch (tools/bench/refresh).
// The parts' items go straight into snapshot_items under a snapshot row that
// is open (open_since: when its first part came; NULL for every committed
// snapshot, as for all before this version) until WriteSnapshot commits
// them: every reader of snapshots and snapshot_items skips open ones, and
// latest_balances and the account history take a snapshot's items only at
// its commit. snapshot_parts records each part's content hash (a retried
// part is recognized; a committed snapshot's content hash covers its parts)
// and counts; its rows stay with their snapshot. Open snapshots never
// committed are deleted in the writer's idle time once abandoned.
constexpr char kV6[] = R"sql(
ALTER TABLE snapshots ADD COLUMN open_since INTEGER;
CREATE INDEX snapshots_open ON snapshots (open_since) WHERE open_since IS NOT NULL;
CREATE TABLE snapshot_parts (
  snapshot_id   INTEGER NOT NULL REFERENCES snapshots (snapshot_id) ON DELETE CASCADE,
  part          INTEGER NOT NULL CHECK (part >= 0),
  content_hash  BLOB NOT NULL,
  items         INTEGER NOT NULL CHECK (items >= 0),
  failed_items  INTEGER NOT NULL CHECK (failed_items >= 0),
  skipped_items INTEGER NOT NULL CHECK (skipped_items >= 0),
  PRIMARY KEY (snapshot_id, part)
) WITHOUT ROWID;
)sql";

}  // namespace

absl::Span<const db::Migration> Migrations() {
  static const auto* const kMigrations = new std::vector<db::Migration>{
      {1, "initial schema", kV1},
      {2, "history by account and time", kV2},
      {3, "latest balances without item references", kV3},
      {4, "account history written in batches", kV4},
      {5, "account history merged in chunks", kV5},
      {6, "snapshots written in parts", kV6},
  };
  return *kMigrations;
}

}  // namespace coffer::storage
