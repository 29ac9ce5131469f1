#include "services/storage/repos/leases_repo.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#include "common/status/status_macros.h"
#include "services/storage/repos/proto_time.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

constexpr size_t kMaxLeaseNameLength = 63;
constexpr size_t kMaxHolderIdLength = 128;

constexpr char kSelectLease[] =
    "SELECT holder_id, holder_address, epoch, acquired_at, renewed_at, expires_at "
    "FROM leases WHERE name = ?1";

// One row of `leases`.
struct StoredLease {
  std::string holder_id;
  std::string holder_address;
  int64_t epoch = 0;
  int64_t acquired_at = 0;
  int64_t renewed_at = 0;
  int64_t expires_at = 0;

  // Held by someone at `now_nanos`: a released lease has no holder, and
  // expiry is judged as the fence judges it (expires_at <= now: expired).
  bool HeldAt(int64_t now_nanos) const { return !holder_id.empty() && expires_at > now_nanos; }
};

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9][a-z0-9.-]{0,62}.
absl::Status ValidateLeaseName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("lease_name: required");
  if (name.size() > kMaxLeaseNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease_name: ", name.size(), " characters, at most ", kMaxLeaseNameLength));
  }
  if (!IsLowerAlnum(name[0])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lease_name: ", Quoted(name), " does not start with a lowercase letter or digit"));
  }
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "lease_name: ", Quoted(name), " is not lowercase letters, digits, '.' and '-'"));
    }
  }
  return absl::OkStatus();
}

// [A-Za-z0-9._:-]{1,128}.
absl::Status ValidateHolderId(absl::string_view holder) {
  if (holder.empty()) return absl::InvalidArgumentError("holder_id: required");
  if (holder.size() > kMaxHolderIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("holder_id: ", holder.size(), " characters, at most ", kMaxHolderIdLength));
  }
  for (char c : holder) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
    if (!allowed) {
      return absl::InvalidArgumentError(absl::StrCat(
          "holder_id: ", Quoted(holder), " is not letters, digits, '.', '_', ':' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEpoch(uint64_t epoch) {
  if (epoch == 0) return absl::InvalidArgumentError("epoch: required, > 0");
  return absl::OkStatus();
}

// The ttl in nanoseconds, within kMinLeaseTtl..kMaxLeaseTtl.
absl::StatusOr<int64_t> TtlNanos(bool has_ttl, const google::protobuf::Duration& ttl) {
  if (!has_ttl) return absl::InvalidArgumentError("ttl: required");
  ASSIGN_OR_RETURN(int64_t nanos, DurationNanos(ttl, "ttl"));
  if (nanos < absl::ToInt64Nanoseconds(kMinLeaseTtl) ||
      nanos > absl::ToInt64Nanoseconds(kMaxLeaseTtl)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ttl: ", absl::FormatDuration(absl::Nanoseconds(nanos)), ", must be ",
        absl::FormatDuration(kMinLeaseTtl), " to ", absl::FormatDuration(kMaxLeaseTtl)));
  }
  return nanos;
}

// The stored row of lease `name`, or nullopt when it was never granted.
template <typename Context>
absl::StatusOr<std::optional<StoredLease>> LoadLease(Context& tx, const std::string& name) {
  ASSIGN_OR_RETURN(db::CachedStatement select, tx.Prepare(kSelectLease));
  RETURN_IF_ERROR(select->Bind(1, name));
  ASSIGN_OR_RETURN(bool row, select->Step());
  if (!row) return std::nullopt;
  StoredLease lease;
  lease.holder_id = std::string(select->ColumnText(0));
  lease.holder_address = std::string(select->ColumnText(1));
  lease.epoch = select->ColumnInt64(2);
  lease.acquired_at = select->ColumnInt64(3);
  lease.renewed_at = select->ColumnInt64(4);
  lease.expires_at = select->ColumnInt64(5);
  return lease;
}

// Writes `lease` as lease `name`'s row, new or replacing the stored one.
absl::Status StoreLease(db::WriteContext& tx, const std::string& name, const StoredLease& lease) {
  ASSIGN_OR_RETURN(db::CachedStatement replace,
                   tx.Prepare("INSERT OR REPLACE INTO leases (name, holder_id, holder_address, "
                              "epoch, acquired_at, renewed_at, expires_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  RETURN_IF_ERROR(replace->Bind(1, name));
  RETURN_IF_ERROR(replace->Bind(2, lease.holder_id));
  RETURN_IF_ERROR(replace->Bind(3, lease.holder_address));
  RETURN_IF_ERROR(replace->Bind(4, lease.epoch));
  RETURN_IF_ERROR(replace->Bind(5, lease.acquired_at));
  RETURN_IF_ERROR(replace->Bind(6, lease.renewed_at));
  RETURN_IF_ERROR(replace->Bind(7, lease.expires_at));
  return replace->Run();
}

void FillLease(const std::string& name, const StoredLease& stored, int64_t now_nanos,
               v1::Lease* lease) {
  lease->set_lease_name(name);
  lease->set_holder_id(stored.holder_id);
  lease->set_holder_address(stored.holder_address);
  lease->set_epoch(static_cast<uint64_t>(stored.epoch));
  *lease->mutable_acquired_at() = ToTimestamp(stored.acquired_at);
  *lease->mutable_renewed_at() = ToTimestamp(stored.renewed_at);
  *lease->mutable_expires_at() = ToTimestamp(stored.expires_at);
  *lease->mutable_remaining() = ToDuration(std::max<int64_t>(0, stored.expires_at - now_nanos));
}

// Why `holder_id` at `epoch` does not hold `stored` at `now_nanos`, or OK.
absl::Status CheckHeldBy(const std::string& name, const std::optional<StoredLease>& stored,
                         const std::string& holder_id, uint64_t epoch, int64_t now_nanos) {
  const std::string lease = Quoted(name);
  if (!stored.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("lease ", lease, " was never granted"));
  }
  if (stored->holder_id.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("lease ", lease, " was released"));
  }
  if (stored->holder_id != holder_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease, " is held by another holder, ", Quoted(stored->holder_id)));
  }
  if (static_cast<uint64_t>(stored->epoch) != epoch) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease, " is at epoch ", stored->epoch, ", not ", epoch));
  }
  if (!stored->HeldAt(now_nanos)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lease ", lease, " expired ",
        absl::FormatDuration(absl::Nanoseconds(now_nanos - stored->expires_at)), " ago"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AcquireLease(db::WriteContext& tx, const v1::AcquireLeaseRequest& request,
                          v1::AcquireLeaseResponse* response, absl::Time now) {
  RETURN_IF_ERROR(ValidateLeaseName(request.lease_name()));
  RETURN_IF_ERROR(ValidateHolderId(request.holder_id()));
  ASSIGN_OR_RETURN(int64_t ttl, TtlNanos(request.has_ttl(), request.ttl()));
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(std::optional<StoredLease> stored, LoadLease(tx, request.lease_name()));
  if (stored.has_value() && stored->HeldAt(now_nanos) && stored->holder_id != request.holder_id()) {
    response->set_acquired(false);
    FillLease(request.lease_name(), *stored, now_nanos, response->mutable_lease());
    return absl::OkStatus();
  }
  StoredLease lease;
  if (stored.has_value() && stored->HeldAt(now_nanos)) {
    // The holder asking again: a renewal, so its fences stay valid.
    lease = *stored;
  } else {
    lease.epoch = stored.has_value() ? stored->epoch + 1 : 1;
    lease.acquired_at = now_nanos;
  }
  lease.holder_id = request.holder_id();
  lease.holder_address = request.holder_address();
  lease.renewed_at = now_nanos;
  lease.expires_at = now_nanos + ttl;
  RETURN_IF_ERROR(StoreLease(tx, request.lease_name(), lease));
  response->set_acquired(true);
  FillLease(request.lease_name(), lease, now_nanos, response->mutable_lease());
  return absl::OkStatus();
}

absl::Status RenewLease(db::WriteContext& tx, const v1::RenewLeaseRequest& request,
                        v1::RenewLeaseResponse* response, absl::Time now) {
  RETURN_IF_ERROR(ValidateLeaseName(request.lease_name()));
  RETURN_IF_ERROR(ValidateHolderId(request.holder_id()));
  RETURN_IF_ERROR(ValidateEpoch(request.epoch()));
  ASSIGN_OR_RETURN(int64_t ttl, TtlNanos(request.has_ttl(), request.ttl()));
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(std::optional<StoredLease> stored, LoadLease(tx, request.lease_name()));
  RETURN_IF_ERROR(
      CheckHeldBy(request.lease_name(), stored, request.holder_id(), request.epoch(), now_nanos));
  StoredLease lease = *stored;
  lease.renewed_at = now_nanos;
  lease.expires_at = now_nanos + ttl;
  RETURN_IF_ERROR(StoreLease(tx, request.lease_name(), lease));
  FillLease(request.lease_name(), lease, now_nanos, response->mutable_lease());
  return absl::OkStatus();
}

absl::Status ReleaseLease(db::WriteContext& tx, const v1::ReleaseLeaseRequest& request,
                          v1::ReleaseLeaseResponse* response, absl::Time now) {
  RETURN_IF_ERROR(ValidateLeaseName(request.lease_name()));
  RETURN_IF_ERROR(ValidateHolderId(request.holder_id()));
  RETURN_IF_ERROR(ValidateEpoch(request.epoch()));
  const int64_t now_nanos = absl::ToUnixNanos(now);
  ASSIGN_OR_RETURN(std::optional<StoredLease> stored, LoadLease(tx, request.lease_name()));
  if (!CheckHeldBy(request.lease_name(), stored, request.holder_id(), request.epoch(), now_nanos)
           .ok()) {
    response->set_released(false);
    return absl::OkStatus();
  }
  StoredLease lease = *stored;
  lease.holder_id.clear();
  lease.holder_address.clear();
  lease.expires_at = now_nanos;
  RETURN_IF_ERROR(StoreLease(tx, request.lease_name(), lease));
  response->set_released(true);
  return absl::OkStatus();
}

absl::Status GetLease(db::ReadContext& tx, const v1::GetLeaseRequest& request,
                      v1::GetLeaseResponse* response, absl::Time now) {
  RETURN_IF_ERROR(ValidateLeaseName(request.lease_name()));
  ASSIGN_OR_RETURN(std::optional<StoredLease> stored, LoadLease(tx, request.lease_name()));
  if (!stored.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("lease ", Quoted(request.lease_name()), " was never granted"));
  }
  FillLease(request.lease_name(), *stored, absl::ToUnixNanos(now), response->mutable_lease());
  return absl::OkStatus();
}

}  // namespace coffer::storage
