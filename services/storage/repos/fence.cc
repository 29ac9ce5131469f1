#include "services/storage/repos/fence.h"

#include <string>

#include "absl/strings/str_cat.h"

#include "common/status/status_macros.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {

absl::Status CheckFence(db::WriteContext& tx, const v1::Fence& fence, absl::Time now) {
  if (fence.lease_name().empty()) return absl::InvalidArgumentError("fence.lease_name: required");
  if (fence.holder_id().empty()) return absl::InvalidArgumentError("fence.holder_id: required");
  if (fence.epoch() == 0) return absl::InvalidArgumentError("fence.epoch: required, > 0");
  ASSIGN_OR_RETURN(db::CachedStatement select,
                   tx.Prepare("SELECT holder_id, epoch, expires_at FROM leases WHERE name = ?1"));
  RETURN_IF_ERROR(select->Bind(1, fence.lease_name()));
  ASSIGN_OR_RETURN(bool row, select->Step());
  const std::string lease = Quoted(fence.lease_name());
  if (!row) {
    return absl::FailedPreconditionError(absl::StrCat("fence: lease ", lease, " is not held"));
  }
  if (select->ColumnText(0) != fence.holder_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("fence: lease ", lease, " is held by another holder"));
  }
  const int64_t epoch = select->ColumnInt64(1);
  if (static_cast<uint64_t>(epoch) != fence.epoch()) {
    return absl::FailedPreconditionError(absl::StrCat("fence: lease ", lease, " is at epoch ",
                                                      epoch, ", the fence at ", fence.epoch()));
  }
  if (select->ColumnInt64(2) <= absl::ToUnixNanos(now)) {
    return absl::FailedPreconditionError(absl::StrCat("fence: lease ", lease, " has expired"));
  }
  return absl::OkStatus();
}

}  // namespace coffer::storage
