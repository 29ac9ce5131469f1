#ifndef COFFER_SERVICES_STORAGE_DB_SECRET_H_
#define COFFER_SERVICES_STORAGE_DB_SECRET_H_

#include <ostream>
#include <string>

#include "absl/strings/string_view.h"

#include "common/secret/wipe.h"

namespace coffer::storage::db {

// Holds a secret (the database key, a key pragma) and wipes its buffer with
// explicit_bzero when destroyed, moved from or assigned over, so that the
// bytes do not linger in freed heap memory.
//
//   ASSIGN_OR_RETURN(SecretString key, LoadDatabaseKey(options));
//   ASSIGN_OR_RETURN(auto connection, Connection::Open(path, key, {}));
//
// It never prints: operator<< (which gtest and logging use) writes
// "<redacted>", and there is no implicit conversion to a string. Read the
// bytes with Reveal() only where they are handed to SQLCipher.
//
// Move-only: a copy would be one more buffer to wipe. Not thread-safe.
class SecretString {
 public:
  SecretString() = default;

  // Takes the bytes of `value` and wipes what is left in `value` (a short
  // string keeps its bytes inline, where moving does not clear them).
  explicit SecretString(std::string&& value);

  ~SecretString();

  SecretString(SecretString&& other) noexcept;
  SecretString& operator=(SecretString&& other) noexcept;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  // The secret bytes. Valid until this object changes or is destroyed.
  absl::string_view Reveal() const { return value_; }

  size_t size() const { return value_.size(); }
  bool empty() const { return value_.empty(); }

  // Appends to the secret. Grows through a new buffer and wipes the old one.
  void Append(absl::string_view bytes);

 private:
  std::string value_;
};

// Binary secrets (raw key bytes) are held the same way; the name says what
// the bytes are.
using SecretBytes = SecretString;

// For temporaries that held secret bytes (common/secret/wipe.h).
using ::coffer::secret::WipeString;

inline std::ostream& operator<<(std::ostream& os, const SecretString&) {
  return os << "<redacted>";
}

}  // namespace coffer::storage::db

#endif  // COFFER_SERVICES_STORAGE_DB_SECRET_H_
