#include "services/storage/repos/snapshot_parts_repo.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

#include "common/status/status_macros.h"
#include "services/storage/repos/digest.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

// The part's content: everything but its fence.
absl::StatusOr<std::string> PartContentHash(const v1::WriteSnapshotPartRequest& request) {
  return ContentDigest(request,
                       [](v1::WriteSnapshotPartRequest& content) { content.clear_fence(); });
}

// Answers a part stored before: true when it was (the response then holds
// its counts), false when not; ALREADY_EXISTS for other content.
absl::StatusOr<bool> AnswerStoredPart(db::WriteContext& tx, const PreparedSnapshotPart& prepared,
                                      int64_t snapshot_id,
                                      v1::WriteSnapshotPartResponse* response) {
  const v1::WriteSnapshotPartRequest& request = *prepared.request;
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT content_hash, items, failed_items, skipped_items FROM "
                              "snapshot_parts WHERE snapshot_id = ?1 AND part = ?2"));
  RETURN_IF_ERROR(select->Bind(1, snapshot_id));
  RETURN_IF_ERROR(select->Bind(2, int64_t{request.part()}));
  ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) return false;
  if (select->ColumnBlob(0) != prepared.content_hash) {
    return absl::AlreadyExistsError(absl::StrCat("part: ", request.part(), " of idempotency_key ",
                                                 Quoted(request.idempotency_key()),
                                                 " was written with other content"));
  }
  response->set_items(static_cast<uint32_t>(select->ColumnInt64(1)));
  response->set_failed_items(static_cast<uint32_t>(select->ColumnInt64(2)));
  response->set_skipped_items(static_cast<uint32_t>(select->ColumnInt64(3)));
  response->set_already_written(true);
  return true;
}

// Items the parts of `snapshot_id` carried so far, stored or skipped.
absl::StatusOr<int64_t> GivenItems(db::WriteContext& tx, int64_t snapshot_id) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT COALESCE(SUM(items + skipped_items), 0) FROM "
                              "snapshot_parts WHERE snapshot_id = ?1"));
  RETURN_IF_ERROR(select->Bind(1, snapshot_id));
  ASSIGN_OR_RETURN(const bool row, select->Step());
  return row ? select->ColumnInt64(0) : 0;
}

absl::StatusOr<int64_t> OpenSnapshot(db::WriteContext& tx, absl::string_view key, int64_t taken_at,
                                     int64_t now_nanos) {
  // content_hash stays empty and run_id '' until the commit sets them.
  ASSIGN_OR_RETURN(db::CachedStatement insert,
                   tx.Prepare("INSERT INTO snapshots (idempotency_key, content_hash, taken_at, "
                              "written_at, open_since) VALUES (?1, X'', ?2, ?3, ?3)"));
  RETURN_IF_ERROR(insert->Bind(1, key));
  RETURN_IF_ERROR(insert->Bind(2, taken_at));
  RETURN_IF_ERROR(insert->Bind(3, now_nanos));
  RETURN_IF_ERROR(insert->Run());
  return tx.connection().LastInsertRowId();
}

}  // namespace

absl::StatusOr<PreparedSnapshotPart> PrepareSnapshotPart(
    const v1::WriteSnapshotPartRequest& request) {
  PreparedSnapshotPart prepared;
  prepared.request = &request;
  RETURN_IF_ERROR(ValidateIdempotencyKey(request.idempotency_key()));
  if (request.part() >= kMaxSnapshotParts) {
    return absl::InvalidArgumentError(
        absl::StrCat("part: ", request.part(), ", at most ", kMaxSnapshotParts - 1));
  }
  if (!request.has_taken_at()) return absl::InvalidArgumentError("taken_at: required");
  ASSIGN_OR_RETURN(prepared.taken_at, ToNanos(request.taken_at(), "taken_at"));
  if (request.items_size() == 0) return absl::InvalidArgumentError("items: at least 1 required");
  RETURN_IF_ERROR(PrepareItems(request.items(), prepared.items));
  ASSIGN_OR_RETURN(prepared.content_hash, PartContentHash(request));
  return prepared;
}

absl::Status WriteSnapshotPart(db::WriteContext& tx, const v1::WriteSnapshotPartRequest& request,
                               v1::WriteSnapshotPartResponse* response, absl::Time now) {
  ASSIGN_OR_RETURN(const PreparedSnapshotPart prepared, PrepareSnapshotPart(request));
  return WriteSnapshotPart(tx, prepared, response, now);
}

absl::Status WriteSnapshotPart(db::WriteContext& tx, const PreparedSnapshotPart& prepared,
                               v1::WriteSnapshotPartResponse* response, absl::Time now) {
  const v1::WriteSnapshotPartRequest& request = *prepared.request;
  const std::string& key = request.idempotency_key();
  response->Clear();
  ASSIGN_OR_RETURN(const std::optional<SnapshotOfKey> snapshot, FindSnapshotOfKey(tx, key));
  if (snapshot.has_value()) {
    ASSIGN_OR_RETURN(const bool stored,
                     AnswerStoredPart(tx, prepared, snapshot->snapshot_id, response));
    if (stored) return absl::OkStatus();
    if (!snapshot->open) {
      return absl::AlreadyExistsError(absl::StrCat("part: idempotency_key ", Quoted(key),
                                                   " was committed without part ", request.part()));
    }
  }

  RETURN_IF_ERROR(CheckFenceIfSet(tx, request.fence(), now));

  int64_t snapshot_id = 0;
  if (snapshot.has_value()) {
    if (prepared.taken_at != snapshot->taken_at) {
      return absl::InvalidArgumentError(
          absl::StrCat("taken_at: ", TimeText(prepared.taken_at), ", but the snapshot ",
                       Quoted(key), "'s other parts were taken at ", TimeText(snapshot->taken_at)));
    }
    ASSIGN_OR_RETURN(const int64_t given, GivenItems(tx, snapshot->snapshot_id));
    const int64_t total = given + request.items_size();
    if (total > static_cast<int64_t>(kMaxSnapshotItems)) {
      return absl::ResourceExhaustedError(absl::StrCat("items: the snapshot ", Quoted(key),
                                                       "'s parts would hold ", total,
                                                       " items, at most ", kMaxSnapshotItems));
    }
    snapshot_id = snapshot->snapshot_id;
  } else {
    ASSIGN_OR_RETURN(snapshot_id, OpenSnapshot(tx, key, prepared.taken_at, absl::ToUnixNanos(now)));
  }

  ASSIGN_OR_RETURN(const SnapshotItemCounts counts,
                   InsertSnapshotItems(tx, snapshot_id, prepared.taken_at, prepared.items,
                                       LatestBalances::kLeave));
  ASSIGN_OR_RETURN(
      db::CachedStatement insert,
      tx.Prepare("INSERT INTO snapshot_parts (snapshot_id, part, content_hash, "
                 "items, failed_items, skipped_items) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  RETURN_IF_ERROR(insert->Bind(1, snapshot_id));
  RETURN_IF_ERROR(insert->Bind(2, int64_t{request.part()}));
  RETURN_IF_ERROR(insert->Bind(3, db::Blob{prepared.content_hash}));
  RETURN_IF_ERROR(insert->Bind(4, counts.stored));
  RETURN_IF_ERROR(insert->Bind(5, counts.failed));
  RETURN_IF_ERROR(insert->Bind(6, counts.skipped));
  RETURN_IF_ERROR(insert->Run());

  response->set_items(static_cast<uint32_t>(counts.stored));
  response->set_failed_items(static_cast<uint32_t>(counts.failed));
  response->set_skipped_items(static_cast<uint32_t>(counts.skipped));
  response->set_already_written(false);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SnapshotOfKey>> FindSnapshotOfKey(db::WriteContext& tx,
                                                               absl::string_view key) {
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT snapshot_id, content_hash, open_since IS NOT NULL, "
                              "taken_at FROM snapshots WHERE idempotency_key = ?1"));
  RETURN_IF_ERROR(select->Bind(1, key));
  ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) return std::nullopt;
  return SnapshotOfKey{select->ColumnInt64(0), std::string(select->ColumnBlob(1)),
                       select->ColumnInt64(2) != 0, select->ColumnInt64(3)};
}

absl::StatusOr<StoredSnapshotParts> ReadSnapshotParts(db::WriteContext& tx, int64_t snapshot_id) {
  StoredSnapshotParts stored;
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT part, content_hash, items, skipped_items FROM "
                              "snapshot_parts WHERE snapshot_id = ?1 ORDER BY part"));
  RETURN_IF_ERROR(select->Bind(1, snapshot_id));
  while (true) {
    ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    stored.parts.push_back(select->ColumnInt64(0));
    stored.content_hashes.emplace_back(select->ColumnBlob(1));
    stored.given_items += select->ColumnInt64(2) + select->ColumnInt64(3);
    stored.skipped_items += select->ColumnInt64(3);
  }
  return stored;
}

absl::Status CheckPartsComplete(const StoredSnapshotParts& stored, uint32_t count,
                                absl::string_view key) {
  // Ascending and unique: the first that is not its own index follows a gap.
  for (uint32_t part = 0; part < count; ++part) {
    if (part >= stored.parts.size() || stored.parts[part] != part) {
      return absl::FailedPreconditionError(absl::StrCat(
          "parts: part ", part, " of idempotency_key ", Quoted(key), " was never written"));
    }
  }
  if (stored.parts.size() > count) {
    return absl::FailedPreconditionError(
        absl::StrCat("parts: ", count, ", but idempotency_key ", Quoted(key), " has part ",
                     stored.parts[count], " written too (it would be dropped)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CommittedContentHash(absl::string_view request_hash,
                                                 const StoredSnapshotParts& stored) {
  std::string hashes(request_hash);
  for (const std::string& hash : stored.content_hashes) hashes += hash;
  return Sha256(hashes);
}

}  // namespace coffer::storage
