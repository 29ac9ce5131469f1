#include "services/storage/maintenance.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <spdlog/spdlog.h>

#include "common/log/fmt_absl.h"
#include "common/status/status_macros.h"
#include "services/storage/db/backup.h"
#include "services/storage/db/key_source.h"
#include "services/storage/db/rekey.h"
#include "services/storage/repos/proto_time.h"

namespace coffer::storage {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kDefaultPagesPerStep = 256;
constexpr uint32_t kMaxPagesPerStep = 65536;
// Default backup names: "coffer-20240131T120000.123Z.db". The time sorts as
// text, which keep_last relies on.
constexpr absl::string_view kDefaultPrefix = "coffer-";
constexpr absl::string_view kDefaultSuffix = "Z.db";
constexpr size_t kDefaultNameLength = 7 + 19 + 4;

std::string DefaultBackupName(absl::Time now) {
  return absl::StrCat(kDefaultPrefix, absl::FormatTime("%Y%m%dT%H%M%E3S", now, absl::UTCTimeZone()),
                      kDefaultSuffix);
}

bool IsDefaultBackupName(const std::string& name) {
  return name.size() == kDefaultNameLength && absl::StartsWith(name, kDefaultPrefix) &&
         absl::EndsWith(name, kDefaultSuffix);
}

// A key named by a request: a server-side file in --db_key_file's format.
absl::StatusOr<db::SecretString> LoadKeyFile(const std::string& field, const std::string& path) {
  db::KeyOptions options;
  options.key_file = path;
  options.env_var.clear();
  absl::StatusOr<db::SecretString> key = db::LoadDatabaseKey(options);
  if (!key.ok())
    return absl::Status(key.status().code(), absl::StrCat(field, ": ", key.status().message()));
  return key;
}

}  // namespace

Maintenance::Maintenance(Database& database, MaintenanceOptions options)
    : database_(database), options_(std::move(options)), thread_("storage-maint", 1) {}

Maintenance::~Maintenance() { Shutdown(); }

void Maintenance::Shutdown() {
  // A backup in progress stops at its next step rather than holding the
  // shutdown for the rest of the copy; a rekey (one transaction) finishes.
  stopping_.store(true, std::memory_order_relaxed);
  thread_.Shutdown();
}

absl::StatusOr<std::string> Maintenance::ResolveBackupPath(const std::string& path,
                                                           absl::Time now) const {
  if (path.empty()) return (fs::path(options_.backup_dir) / DefaultBackupName(now)).string();
  if (path.front() == '/') {
    return absl::InvalidArgumentError(
        "path: must be relative to the backup directory, not absolute");
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path: \"", part, "\" is not allowed as a path component"));
    }
  }
  return (fs::path(options_.backup_dir) / path).string();
}

void Maintenance::Backup(v1::BackupRequest request, WriteProgress write, Finish finish) {
  auto shared_finish = std::make_shared<Finish>(std::move(finish));
  const bool queued = thread_.Submit(
      [this, request = std::move(request), write = std::move(write), shared_finish]() mutable {
        v1::BackupResult result;
        absl::Status status = RunBackup(request, write, &result);
        if (status.ok()) {
          v1::BackupResponse last;
          *last.mutable_result() = result;
          last.mutable_progress()->set_stage("done");
          last.mutable_progress()->set_unit("pages");
          if (!write(last)) status = absl::CancelledError("the client went away");
        }
        (*shared_finish)(status);
      });
  if (!queued) (*shared_finish)(absl::UnavailableError("storage: shutting down"));
}

absl::Status Maintenance::RunBackup(const v1::BackupRequest& request, const WriteProgress& write,
                                    v1::BackupResult* result) {
  const absl::Time start = absl::Now();
  if (request.pages_per_step() > kMaxPagesPerStep) {
    return absl::InvalidArgumentError(absl::StrCat("pages_per_step: ", request.pages_per_step(),
                                                   " exceeds the maximum ", kMaxPagesPerStep));
  }
  ASSIGN_OR_RETURN(std::string path, ResolveBackupPath(request.path(), start));
  std::error_code error;
  fs::create_directories(fs::path(path).parent_path(), error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create ", fs::path(path).parent_path().string(), ": ", error.message()));
  }
  if (fs::exists(path) && !request.overwrite()) {
    return absl::AlreadyExistsError(
        absl::StrCat("path: ", path, " exists; set overwrite to replace it"));
  }
  db::SecretString key;
  if (request.key_file().empty()) {
    key = database_.CopyKey();
  } else {
    ASSIGN_OR_RETURN(key, LoadKeyFile("key_file", request.key_file()));
  }
  // A connection of its own: the copy holds a read transaction for its whole
  // length, which must not tie up one of the pool's readers.
  db::OpenOptions open;
  open.read_only = true;
  ASSIGN_OR_RETURN(std::unique_ptr<db::Connection> source, database_.OpenConnection(open));

  db::BackupOptions options;
  options.pages_per_step = static_cast<int>(
      request.pages_per_step() == 0 ? kDefaultPagesPerStep : request.pages_per_step());
  bool client_gone = false;
  absl::Time last_progress = absl::InfinitePast();
  options.progress = [&](int done, int total) {
    const absl::Time now = absl::Now();
    if (done < total && now - last_progress < options_.progress_interval) return;
    last_progress = now;
    v1::BackupResponse message;
    v1::Progress* progress = message.mutable_progress();
    progress->set_stage("copying pages");
    progress->set_unit("pages");
    progress->set_done(static_cast<uint64_t>(done));
    progress->set_total(static_cast<uint64_t>(total));
    *progress->mutable_elapsed() = ToDuration(absl::ToInt64Nanoseconds(now - start));
    if (!write(message)) client_gone = true;
  };
  options.cancelled = [&] { return client_gone || stopping_.load(std::memory_order_relaxed); };

  // A key given by file is copied by the backup API only when it matches
  // the source's; a different key needs the copy re-encrypted afterwards.
  const db::SecretString own_key = database_.CopyKey();
  const bool same_key = key.Reveal() == own_key.Reveal();
  absl::Status copied = db::BackupDatabase(source->raw(), own_key.Reveal(), path, options);
  source.reset();
  if (!copied.ok()) {
    if (client_gone) return absl::CancelledError("backup cancelled: the client went away");
    if (copied.code() == absl::StatusCode::kCancelled) {
      return absl::UnavailableError("backup cancelled: storage is shutting down");
    }
    return copied;
  }
  if (!same_key) {
    absl::Status rekeyed = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(std::unique_ptr<db::Connection> copy,
                       db::Connection::Open(path, own_key, db::OpenOptions()));
      return db::RekeyDatabase(copy->raw(), key.Reveal());
    }();
    if (!rekeyed.ok()) {
      fs::remove(path, error);
      return absl::InternalError(
          absl::StrCat("backup: re-encrypting with key_file failed: ", rekeyed.message()));
    }
  }

  result->set_path(fs::absolute(path, error).string());
  result->set_size_bytes(static_cast<uint64_t>(fs::file_size(path, error)));
  result->set_schema_version(static_cast<uint32_t>(database_.schema_version()));
  if (request.keep_last() > 0) {
    for (std::string& deleted : DeleteOldBackups(request.keep_last())) {
      result->add_deleted(std::move(deleted));
    }
  }
  *result->mutable_duration() = ToDuration(absl::ToInt64Nanoseconds(absl::Now() - start));
  spdlog::info("backup written to {} ({} bytes)", result->path(), result->size_bytes());
  return absl::OkStatus();
}

std::vector<std::string> Maintenance::DeleteOldBackups(uint32_t keep_last) const {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.backup_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file(error) && IsDefaultBackupName(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> deleted;
  for (size_t i = 0; i + keep_last < names.size(); ++i) {
    const fs::path path = fs::absolute(fs::path(options_.backup_dir) / names[i], error);
    if (fs::remove(path, error)) {
      deleted.push_back(path.string());
    } else if (error) {
      spdlog::warn("keep_last: cannot delete {}: {}", path.string(), error.message());
    }
  }
  return deleted;
}

void Maintenance::Rekey(v1::RekeyRequest request, v1::RekeyResponse* response, Finish finish) {
  auto shared_finish = std::make_shared<Finish>(std::move(finish));
  const bool queued =
      thread_.Submit([this, request = std::move(request), response, shared_finish]() mutable {
        const absl::Time start = absl::Now();
        absl::Status status = [&]() -> absl::Status {
          if (request.new_key_file().empty()) {
            return absl::InvalidArgumentError("new_key_file: required");
          }
          ASSIGN_OR_RETURN(db::SecretString new_key,
                           LoadKeyFile("new_key_file", request.new_key_file()));
          if (!request.skip_backup()) {
            v1::BackupRequest backup;
            backup.set_path(absl::StrCat(
                "before-rekey-", absl::FormatTime("%Y%m%dT%H%M%E3SZ", start, absl::UTCTimeZone()),
                ".db"));
            v1::BackupResult result;
            RETURN_IF_ERROR(RunBackup(
                backup, [](const v1::BackupResponse&) { return true; }, &result));
            response->set_backup_path(result.path());
          }
          RETURN_IF_ERROR(database_.Rekey(std::move(new_key)));
          *response->mutable_duration() = ToDuration(absl::ToInt64Nanoseconds(absl::Now() - start));
          spdlog::warn(
              "database {} rekeyed: point --db_key_file or COFFER_DB_KEY at {} before the "
              "next start",
              database_.path(), request.new_key_file());
          return absl::OkStatus();
        }();
        (*shared_finish)(status);
      });
  if (!queued) (*shared_finish)(absl::UnavailableError("storage: shutting down"));
}

}  // namespace coffer::storage
