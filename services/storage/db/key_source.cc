#include "services/storage/db/key_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include <openssl/rand.h>

#include "common/log/fmt_absl.h"
#include "common/status/status_macros.h"

namespace coffer::storage::db {
namespace {

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

absl::Status ErrnoStatus(int error, absl::string_view what, absl::string_view path) {
  const absl::StatusCode code = error == ENOENT ? absl::StatusCode::kNotFound
                                : (error == EACCES || error == EPERM)
                                    ? absl::StatusCode::kPermissionDenied
                                    : absl::StatusCode::kInternal;
  return absl::Status(code, absl::StrCat(what, " ", path, ": ", strerror(error)));
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Warns when a key file can be read by anyone but its owner.
void WarnIfLoosePermissions(int fd, absl::string_view path) {
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  if ((st.st_mode & 077) != 0) {
    spdlog::warn("database key file {} has mode {:04o}; it should be 0600 (chmod 600 {})", path,
                 st.st_mode & 07777, path);
  }
}

absl::StatusOr<SecretString> ReadKeyFile(const std::string& path, absl::string_view source) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open database key file", path);
  FdCloser closer(fd);
  WarnIfLoosePermissions(fd, path);
  // A key is 64 characters; anything much longer is not a key file, and
  // reading is bounded so that a wrong path (a device, a huge file) fails fast.
  constexpr size_t kMaxKeyFileSize = 4096;
  std::string text(kMaxKeyFileSize + 1, '\0');
  size_t length = 0;
  while (length < text.size()) {
    const ssize_t n = read(fd, text.data() + length, text.size() - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      WipeString(text);
      return ErrnoStatus(error, "cannot read database key file", path);
    }
    if (n == 0) break;
    length += static_cast<size_t>(n);
  }
  absl::StatusOr<SecretString> key =
      ParseDatabaseKey(absl::string_view(text.data(), length), source);
  WipeString(text);
  return key;
}

void LogDevelopmentKeyWarning(absl::string_view key_path) {
  spdlog::warn("**************************************************************");
  spdlog::warn("DEVELOPMENT KEY: no database key was configured, so coffer");
  spdlog::warn("generated a random one and stored it beside the database in");
  spdlog::warn("  {}", key_path);
  spdlog::warn("Anyone who can read that file can read the database. For");
  spdlog::warn("production, keep the key elsewhere and pass --db_key_file or");
  spdlog::warn("COFFER_DB_KEY (64 hex characters). Losing the key loses the data.");
  spdlog::warn("**************************************************************");
}

absl::StatusOr<SecretString> CreateDevelopmentKey(const std::string& key_path) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    return absl::InternalError("cannot generate a database key: RAND_bytes failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(kKeyHexLength + 1);
  for (unsigned char byte : raw) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  explicit_bzero(raw, sizeof(raw));
  hex.push_back('\n');
  SecretString contents(std::move(hex));

  // O_EXCL: never overwrite a key that appeared meanwhile (another process).
  const int fd = open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "cannot create development key file", key_path);
  absl::Status status;
  {
    FdCloser closer(fd);
    // The umask may only remove bits, but be explicit about the result.
    if (fchmod(fd, 0600) != 0) status = ErrnoStatus(errno, "cannot chmod", key_path);
    absl::string_view bytes = contents.Reveal();
    while (status.ok() && !bytes.empty()) {
      const ssize_t n = write(fd, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = ErrnoStatus(errno, "cannot write development key file", key_path);
        break;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    if (status.ok() && fsync(fd) != 0) {
      status = ErrnoStatus(errno, "cannot sync development key file", key_path);
    }
  }
  if (!status.ok()) {
    unlink(key_path.c_str());
    return status;
  }
  LogDevelopmentKeyWarning(key_path);
  return ParseDatabaseKey(contents.Reveal(), absl::StrCat("development key file ", key_path));
}

}  // namespace

std::string DevelopmentKeyPath(absl::string_view database_path) {
  return absl::StrCat(database_path, ".key");
}

absl::StatusOr<SecretString> ParseDatabaseKey(absl::string_view text, absl::string_view source) {
  text = absl::StripAsciiWhitespace(text);
  bool valid = text.size() == kKeyHexLength;
  for (size_t i = 0; valid && i < text.size(); ++i) {
    valid = absl::ascii_isxdigit(static_cast<unsigned char>(text[i]));
  }
  if (!valid) {
    // Neither the content nor its length: both would tell something about a
    // key that may be a mistyped real one.
    return absl::InvalidArgumentError(
        absl::StrCat("database key from ", source,
                     " is not a raw 256-bit key written as 64 hexadecimal characters"));
  }
  std::string normalized(text.data(), text.size());
  for (char& c : normalized) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return SecretString(std::move(normalized));
}

absl::StatusOr<SecretString> LoadDatabaseKey(const KeyOptions& options) {
  const char* env_value = options.env_var.empty() ? nullptr : getenv(options.env_var.c_str());
  const bool env_set = env_value != nullptr && env_value[0] != '\0';
  if (!options.key_file.empty() && env_set) {
    return absl::InvalidArgumentError(absl::StrCat("both a database key file (", options.key_file,
                                                   ") and ", options.env_var,
                                                   " are set; set only one"));
  }
  if (!options.key_file.empty()) {
    return ReadKeyFile(options.key_file, absl::StrCat("key file ", options.key_file));
  }
  if (env_set) {
    return ParseDatabaseKey(env_value, absl::StrCat("environment variable ", options.env_var));
  }
  if (options.database_path.empty()) {
    return absl::InvalidArgumentError("no database key configured and no database path given");
  }
  const std::string key_path = DevelopmentKeyPath(options.database_path);
  if (FileExists(key_path)) {
    spdlog::warn("using the DEVELOPMENT KEY {} stored beside the database", key_path);
    return ReadKeyFile(key_path, absl::StrCat("development key file ", key_path));
  }
  if (FileExists(options.database_path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", options.database_path,
                     " exists but no key is configured: set --db_key_file or ", options.env_var));
  }
  return CreateDevelopmentKey(key_path);
}

}  // namespace coffer::storage::db
