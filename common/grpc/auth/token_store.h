// TokenStore: the bearer tokens a server accepts, loaded from the file named
// by --auth_tokens_file and reloaded when that file changes (a rotated
// Kubernetes Secret, an edited file), without a restart.
//
// File format, one token per line; blank lines and '#' comments are skipped:
//
//   # ROLE  TOKEN                             NAME (optional, for logs)
//   admin   3f1c0e5b9a0d4c7e8b2f6a1d9e4c7b30  scheduler
//   read    7a9d2c4e6f8b0a1c3e5d7f9b1d3f5a7c  dashboard
//
// ROLE is read or admin; a TOKEN has at least kMinTokenLength characters and
// no whitespace. Tokens are never logged nor put in a Status: errors name the
// file and the line number only.
//
// Only a SHA-256 digest of each token is kept: no plaintext token stays in
// memory (or in a core dump) after loading, and lookups compare digests of
// one fixed length with CRYPTO_memcmp, whose time depends neither on where
// two digests differ nor on the presented token's length. Every entry is
// compared, with no early exit, so the time does not say which entry (if any)
// matched either.
//
// Thread safety: Find and Reload may be called from any thread at once.
#ifndef COFFER_COMMON_GRPC_AUTH_TOKEN_STORE_H_
#define COFFER_COMMON_GRPC_AUTH_TOKEN_STORE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "common/grpc/auth/role.h"

namespace coffer::grpc_util::auth {

// Shorter tokens are refused when loading: a guessable token is no token.
inline constexpr size_t kMinTokenLength = 16;

class TokenStore {
 public:
  struct Options {
    // How often Find looks whether the file changed (one stat() call).
    // Zero: at every Find (tests).
    absl::Duration recheck_interval = absl::Seconds(1);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  // Who presented a known token.
  struct Identity {
    Role role;
    // The NAME column, or "line N of FILE" when the line has none.
    std::string name;
  };

  // Loads `path`. Errors: the file cannot be read (NOT_FOUND,
  // PERMISSION_DENIED), a malformed line, a duplicate token, or no token at
  // all (INVALID_ARGUMENT: an empty file would lock every caller out).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TokenStore>> Open(std::string path,
                                                                        Options options);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TokenStore>> Open(std::string path) {
    return Open(std::move(path), Options());
  }

  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  // The identity `token` belongs to, or nullopt. Reloads first when the
  // file changed and the recheck interval has passed; a file that no longer
  // loads leaves the previous tokens in force (and is logged). Any thread;
  // does not block beyond a stat() and, after a change, one small read.
  std::optional<Identity> Find(std::string_view token) const;

  // Re-reads the file now, whether or not it changed. On error the previous
  // tokens stay in force.
  [[nodiscard]] absl::Status Reload();

  // Counts of the tokens in force, for the startup log.
  int count(Role role) const;
  const std::string& path() const { return path_; }

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Entry {
    Digest digest;
    Identity identity;
  };
  struct Table {
    std::vector<Entry> entries;
  };
  // What stat() says of the file; a change of any of it means reload.
  struct FileVersion {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t modified_ns = 0;
    int64_t changed_ns = 0;
    bool operator==(const FileVersion&) const = default;
  };

  TokenStore(std::string path, Options options);

  // Reads and parses the file; the plaintext is wiped before returning.
  static absl::StatusOr<std::shared_ptr<const Table>> Load(const std::string& path,
                                                           FileVersion* version);
  static absl::StatusOr<std::shared_ptr<const Table>> Parse(std::string_view text,
                                                            const std::string& path);
  static Digest DigestOf(std::string_view token);
  static absl::StatusOr<FileVersion> Stat(const std::string& path);
  static FileVersion VersionOf(const struct stat& info);

  // Reloads if the interval passed and the file changed. Called by Find.
  void MaybeReload() const;

  const std::string path_;
  const Options options_;
  mutable std::atomic<int64_t> next_check_ns_{0};

  // Held by the one thread that reloads; others go on with the old table.
  mutable absl::Mutex reload_mu_;
  mutable FileVersion version_ ABSL_GUARDED_BY(reload_mu_);

  mutable absl::Mutex table_mu_;
  mutable std::shared_ptr<const Table> table_ ABSL_GUARDED_BY(table_mu_);
};

}  // namespace coffer::grpc_util::auth

#endif  // COFFER_COMMON_GRPC_AUTH_TOKEN_STORE_H_
