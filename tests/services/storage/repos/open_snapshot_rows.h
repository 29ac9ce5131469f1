// Open snapshots (schema.cc, version 6) written as plain rows, the way
// WriteSnapshotPart leaves them before WriteSnapshot commits them: one
// snapshots row with open_since set, its items, and one snapshot_parts row
// per part. For the tests of the readers that must skip them and of the
// cleanup that deletes abandoned ones.
//
//   absl::StatusOr<int64_t> id;
//   ASSERT_TRUE(Write([&](db::WriteContext& tx) {
//     id = InsertOpenSnapshot(tx, {"refresh-7", taken_at, open_since, items, 2});
//     return id.status();
//   }).ok());
#ifndef COFFER_TESTS_SERVICES_STORAGE_REPOS_OPEN_SNAPSHOT_ROWS_H_
#define COFFER_TESTS_SERVICES_STORAGE_REPOS_OPEN_SNAPSHOT_ROWS_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

#include "common/status/status_macros.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// One successful reading (ids as stored: normalized).
struct OpenItem {
  std::string account_id;
  std::string asset_id;
  std::string units;
  uint32_t decimals = 18;
};

struct OpenSnapshot {
  std::string idempotency_key;
  absl::Time taken_at;
  // When its first part came (storage's clock).
  absl::Time open_since;
  std::vector<OpenItem> items;
  // Parts the items are dealt over, round robin (at least one row).
  int parts = 1;
};

// Inserts `snapshot`'s rows; answers its snapshot_id.
inline absl::StatusOr<int64_t> InsertOpenSnapshot(db::WriteContext& tx,
                                                  const OpenSnapshot& snapshot) {
  ASSIGN_OR_RETURN(db::CachedStatement insert_snapshot,
                   tx.Prepare("INSERT INTO snapshots (idempotency_key, content_hash, taken_at, "
                              "written_at, open_since) VALUES (?1, X'', ?2, ?3, ?3)"));
  RETURN_IF_ERROR(insert_snapshot->Bind(1, snapshot.idempotency_key));
  RETURN_IF_ERROR(insert_snapshot->Bind(2, absl::ToUnixNanos(snapshot.taken_at)));
  RETURN_IF_ERROR(insert_snapshot->Bind(3, absl::ToUnixNanos(snapshot.open_since)));
  RETURN_IF_ERROR(insert_snapshot->Run());
  const int64_t snapshot_id = tx.connection().LastInsertRowId();

  ASSIGN_OR_RETURN(db::CachedStatement insert_item,
                   tx.Prepare("INSERT INTO snapshot_items (snapshot_id, account_id, asset_id, "
                              "taken_at, units, decimals) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  for (const OpenItem& item : snapshot.items) {
    RETURN_IF_ERROR(insert_item->Bind(1, snapshot_id));
    RETURN_IF_ERROR(insert_item->Bind(2, item.account_id));
    RETURN_IF_ERROR(insert_item->Bind(3, item.asset_id));
    RETURN_IF_ERROR(insert_item->Bind(4, absl::ToUnixNanos(snapshot.taken_at)));
    RETURN_IF_ERROR(insert_item->Bind(5, item.units));
    RETURN_IF_ERROR(insert_item->Bind(6, int64_t{item.decimals}));
    RETURN_IF_ERROR(insert_item->Run());
    insert_item->Reset();
  }

  const int parts = std::max(snapshot.parts, 1);
  ASSIGN_OR_RETURN(db::CachedStatement insert_part,
                   tx.Prepare("INSERT INTO snapshot_parts (snapshot_id, part, content_hash, "
                              "items, failed_items, skipped_items) VALUES (?1, ?2, "
                              "randomblob(32), ?3, 0, 0)"));
  for (int part = 0; part < parts; ++part) {
    const int64_t items = (static_cast<int64_t>(snapshot.items.size()) + parts - 1 - part) / parts;
    RETURN_IF_ERROR(insert_part->Bind(1, snapshot_id));
    RETURN_IF_ERROR(insert_part->Bind(2, int64_t{part}));
    RETURN_IF_ERROR(insert_part->Bind(3, items));
    RETURN_IF_ERROR(insert_part->Run());
    insert_part->Reset();
  }
  return snapshot_id;
}

// Snapshot `key`'s rows as "snapshots items parts" counts: "1 2 2" for an
// open snapshot of two items in two parts, "0 0 0" once it is deleted.
// `count` answers how many rows a "table WHERE ..." clause selects (the
// fixture's Count).
template <typename CountRows>
std::string RowsOfSnapshot(const std::string& key, CountRows count) {
  const std::string id =
      absl::StrCat("(SELECT snapshot_id FROM snapshots WHERE idempotency_key = '", key, "')");
  return absl::StrCat(count(absl::StrCat("snapshots WHERE snapshot_id = ", id)), " ",
                      count(absl::StrCat("snapshot_items WHERE snapshot_id = ", id)), " ",
                      count(absl::StrCat("snapshot_parts WHERE snapshot_id = ", id)));
}

}  // namespace coffer::storage

#endif  // COFFER_TESTS_SERVICES_STORAGE_REPOS_OPEN_SNAPSHOT_ROWS_H_
