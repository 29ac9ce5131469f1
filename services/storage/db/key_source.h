#ifndef COFFER_SERVICES_STORAGE_DB_KEY_SOURCE_H_
#define COFFER_SERVICES_STORAGE_DB_KEY_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "services/storage/db/secret.h"

namespace coffer::storage::db {

// Where the database key comes from. Never from a flag's value: a flag shows
// up in `ps`, shell history and crash reports. A flag may name the key *file*.
struct KeyOptions {
  // The database file the key is for. The development key lives beside it,
  // in "<database_path>.key".
  std::string database_path;
  // A file holding the key (--db_key_file); empty when not configured.
  std::string key_file;
  // The environment variable holding the key; empty disables it.
  std::string env_var = "COFFER_DB_KEY";
};

// Length of a key in its hexadecimal form: a raw 256-bit SQLCipher key.
inline constexpr size_t kKeyHexLength = 64;

// Returns the database key as 64 lowercase hexadecimal characters, which
// Connection applies as `PRAGMA key = "x'…'"` (a raw key: no passphrase
// derivation).
//
// Looks, in order:
//  1. `key_file`, when set. Surrounding whitespace (a trailing newline) is
//     ignored. A file readable by group or others is used with a warning.
//  2. The environment variable `env_var`, when set and non-empty.
//     Setting both 1 and 2 is INVALID_ARGUMENT: which key wins would be a
//     guess.
//  3. Otherwise the development key "<database_path>.key": used when it
//     exists; created (32 bytes from OpenSSL's RAND_bytes, mode 0600, with a
//     loud warning in the log) when neither it nor the database exists yet.
//     An existing database without any key is FAILED_PRECONDITION.
//
// A key that is not exactly 64 hexadecimal characters is INVALID_ARGUMENT
// naming its source, never its content. Blocks on file I/O: call at startup.
[[nodiscard]] absl::StatusOr<SecretString> LoadDatabaseKey(const KeyOptions& options);

// Checks and normalizes (lowercases) a key in its text form; `source` names
// where it came from in the error ("key file /etc/coffer/db.key").
[[nodiscard]] absl::StatusOr<SecretString> ParseDatabaseKey(absl::string_view text,
                                                            absl::string_view source);

// The path of the development key for `database_path`.
std::string DevelopmentKeyPath(absl::string_view database_path);

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_KEY_SOURCE_H_
