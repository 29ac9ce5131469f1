// Changing the key of an open SQLCipher database (an admin operation).
//
//   RETURN_IF_ERROR(RekeyDatabase(db, new_key.Reveal()));
//   // Every connection opened from now on must use new_key.
//
// SQLCipher 3.4's PRAGMA rekey rewrites every page with the new key in one
// transaction. It works in WAL mode (checked by rekey_test): the rewritten
// pages go to the WAL under the new key. The WAL then still holds the older
// frames, encrypted with the OLD key, until a checkpoint; a stolen old key
// would read them. So RekeyDatabase checkpoints with TRUNCATE afterwards,
// copying the new-key pages into the database file and emptying the WAL.
#ifndef COFFER_SERVICES_STORAGE_DB_REKEY_H_
#define COFFER_SERVICES_STORAGE_DB_REKEY_H_

#include <sqlite3.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace coffer::storage::db {

// Re-encrypts the database open on `db` (already keyed with the current key)
// with `new_key_hex`, 64 hexadecimal characters. `db` stays open and keeps
// working with the new key.
//
// `db` must be the only connection to the database: any other still holds
// the old key and fails on its next read of a rewritten page, and one holding
// a read transaction keeps the checkpoint from emptying the WAL (then
// FAILED_PRECONDITION after the rekey itself succeeded). Blocks for a full
// rewrite of the file. INVALID_ARGUMENT for a malformed key; the key is never
// logged or put in an error.
[[nodiscard]] absl::Status RekeyDatabase(sqlite3* db, absl::string_view new_key_hex);

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_REKEY_H_
