#include "services/storage/db/rekey.h"

#include <sqlite3.h>
#include <string.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

#include "common/status/status_macros.h"
#include "services/storage/db/backup.h"

namespace coffer::storage::db {

absl::Status RekeyDatabase(sqlite3* db, absl::string_view new_key_hex) {
  RETURN_IF_ERROR(CheckKeyHex(new_key_hex));
  // Reserved up front so that appending never reallocates and leaves a copy
  // of the key in freed memory.
  std::string pragma;
  pragma.reserve(128);
  pragma.append("PRAGMA rekey = \"x'")
      .append(new_key_hex.data(), new_key_hex.size())
      .append("'\";");
  char* message = nullptr;
  const int rc = sqlite3_exec(db, pragma.c_str(), nullptr, nullptr, &message);
  explicit_bzero(pragma.data(), pragma.size());
  if (rc != SQLITE_OK) {
    // SQLite's message names the failure, never the key.
    absl::Status status =
        absl::InternalError(absl::StrCat("rekey failed: ", message != nullptr ? message : "?"));
    sqlite3_free(message);
    return status;
  }

  // Drop the frames still encrypted with the old key (see rekey.h).
  int wal_frames = 0;
  int checkpointed = 0;
  const int checkpoint_rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                                      &wal_frames, &checkpointed);
  if (checkpoint_rc != SQLITE_OK) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database rekeyed, but the WAL still holds pages under the old key: checkpoint failed (",
        sqlite3_errmsg(db), "); close other connections and checkpoint"));
  }
  spdlog::info("database rekeyed");
  return absl::OkStatus();
}

}  // namespace coffer::storage::db
