#include "common/grpc/auth/token_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "common/secret/wipe.h"

namespace coffer::grpc_util::auth {
namespace {

// A tokens file is a few lines; anything bigger is the wrong file.
constexpr off_t kMaxFileBytes = 1 << 20;

int64_t Nanoseconds(const struct timespec& time) {
  return static_cast<int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

absl::Status ErrnoStatus(int error, const std::string& what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace

TokenStore::TokenStore(std::string path, Options options)
    : path_(std::move(path)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(std::string path, Options options) {
  std::unique_ptr<TokenStore> store(new TokenStore(std::move(path), std::move(options)));
  absl::Status loaded = store->Reload();
  if (!loaded.ok()) return loaded;
  store->next_check_ns_.store(
      absl::ToUnixNanos(store->options_.clock() + store->options_.recheck_interval),
      std::memory_order_relaxed);
  return store;
}

absl::Status TokenStore::Reload() {
  absl::MutexLock reload_lock(&reload_mu_);
  FileVersion version;
  absl::StatusOr<std::shared_ptr<const Table>> table = Load(path_, &version);
  if (!table.ok()) return table.status();
  version_ = version;
  absl::MutexLock table_lock(&table_mu_);
  table_ = *std::move(table);
  return absl::OkStatus();
}

void TokenStore::MaybeReload() const {
  int64_t now = absl::ToUnixNanos(options_.clock());
  if (now < next_check_ns_.load(std::memory_order_relaxed)) return;
  // One thread looks; the others carry on with the tokens in force.
  if (!reload_mu_.TryLock()) return;
  next_check_ns_.store(now + absl::ToInt64Nanoseconds(options_.recheck_interval),
                       std::memory_order_relaxed);
  absl::StatusOr<FileVersion> current = Stat(path_);
  if (current.ok() && *current != version_) {
    FileVersion loaded_version;
    absl::StatusOr<std::shared_ptr<const Table>> table = Load(path_, &loaded_version);
    // Remembered either way, so a broken file is reported once per change.
    version_ = table.ok() ? loaded_version : *current;
    if (table.ok()) {
      spdlog::info("auth: reloaded {} tokens from {}", (*table)->entries.size(), path_);
      absl::MutexLock table_lock(&table_mu_);
      table_ = *std::move(table);
    } else {
      spdlog::error("auth: {} changed but does not load ({}); the previous tokens stay in force",
                    path_, table.status().ToString());
    }
  } else if (!current.ok() && version_ != FileVersion()) {
    // Gone or unreadable (a Secret being swapped): keep the tokens, say so once.
    spdlog::warn("auth: cannot stat {} ({}); the previous tokens stay in force", path_,
                 current.status().ToString());
    version_ = FileVersion();
  }
  reload_mu_.Unlock();
}

std::optional<TokenStore::Identity> TokenStore::Find(std::string_view token) const {
  MaybeReload();
  std::shared_ptr<const Table> table;
  {
    absl::MutexLock lock(&table_mu_);
    table = table_;
  }
  Digest digest = DigestOf(token);
  const Entry* found = nullptr;
  for (const Entry& entry : table->entries) {
    // Every entry is compared; CRYPTO_memcmp takes the same time wherever
    // the bytes differ.
    bool equal = CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return found->identity;
}

int TokenStore::count(Role role) const {
  absl::MutexLock lock(&table_mu_);
  int count = 0;
  for (const Entry& entry : table_->entries) count += entry.identity.role == role ? 1 : 0;
  return count;
}

TokenStore::Digest TokenStore::DigestOf(std::string_view token) {
  Digest digest{};
  unsigned int length = 0;
  // SHA-256 over a memory buffer does not fail short of memory exhaustion.
  EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

absl::StatusOr<TokenStore::FileVersion> TokenStore::Stat(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return ErrnoStatus(errno, path);
  return VersionOf(info);
}

TokenStore::FileVersion TokenStore::VersionOf(const struct stat& info) {
  FileVersion version;
  version.device = info.st_dev;
  version.inode = info.st_ino;
  version.size = info.st_size;
  version.modified_ns = Nanoseconds(info.st_mtim);
  version.changed_ns = Nanoseconds(info.st_ctim);
  return version;
}

absl::StatusOr<std::shared_ptr<const TokenStore::Table>> TokenStore::Load(const std::string& path,
                                                                          FileVersion* version) {
  // Read with open/read into one buffer sized up front, not through a
  // stream: no library buffer or reallocation leaves a copy of the tokens
  // behind, and the one buffer is wiped.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, path);
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  struct stat info;
  if (::fstat(fd, &info) != 0) return ErrnoStatus(errno, path);
  if (info.st_size > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kMaxFileBytes, " bytes; not a tokens file"));
  }
  std::string text(static_cast<size_t>(info.st_size), '\0');
  size_t filled = 0;
  while (filled < text.size()) {
    ssize_t n = ::read(fd, text.data() + filled, text.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      secret::WipeString(text);
      return ErrnoStatus(error, path);
    }
    if (n == 0) break;  // shrank since fstat: parse what is there
    filled += static_cast<size_t>(n);
  }
  absl::StatusOr<std::shared_ptr<const Table>> table =
      Parse(std::string_view(text.data(), filled), path);
  secret::WipeString(text);
  if (!table.ok()) return table.status();
  *version = VersionOf(info);
  if ((info.st_mode & S_IROTH) != 0) {
    spdlog::warn("auth: {} is readable by every user of this machine; chmod o-r it", path);
  }
  return table;
}

absl::StatusOr<std::shared_ptr<const TokenStore::Table>> TokenStore::Parse(
    std::string_view text, const std::string& path) {
  auto table = std::make_shared<Table>();
  int line_number = 0;
  // Abseil's string_view (Debian's is not std::string_view) for its helpers.
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    // Neither the line nor its fields are quoted in errors: any of them may
    // be a token written in the wrong place.
    std::string where = absl::StrCat(path, " line ", line_number);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected ROLE TOKEN [NAME]"));
    }
    std::optional<Role> role = ParseRole(std::string_view(fields[0].data(), fields[0].size()));
    if (!role.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the first field must be the role, read or admin"));
    }
    if (fields[1].size() < kMinTokenLength) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the token is shorter than ", kMinTokenLength, " characters"));
    }
    std::string name;
    if (fields.size() > 2) {
      // The rest of the line, as written.
      size_t start = static_cast<size_t>(fields[2].data() - line.data());
      name = std::string(line.substr(start));
    } else {
      name = absl::StrCat("line ", line_number, " of ", path);
    }
    Entry entry{DigestOf(std::string_view(fields[1].data(), fields[1].size())),
                Identity{*role, std::move(name)}};
    for (const Entry& other : table->entries) {
      if (other.digest == entry.digest) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": the same token as \"", other.identity.name, "\""));
      }
    }
    table->entries.push_back(std::move(entry));
  }
  if (table->entries.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": no tokens (lines \"ROLE TOKEN [NAME]\"); every call would be "
                     "refused"));
  }
  return std::shared_ptr<const Table>(std::move(table));
}

}  // namespace coffer::grpc_util::auth
