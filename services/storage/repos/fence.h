// The lease fence on scheduler writes: a write that carries a fence is
// refused with FAILED_PRECONDITION unless the named lease is held by the same
// holder, at the same epoch, and has not expired at `now` (storage's clock).
// An empty fence is not checked.
#ifndef COFFER_SERVICES_STORAGE_REPOS_FENCE_H_
#define COFFER_SERVICES_STORAGE_REPOS_FENCE_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

[[nodiscard]] absl::Status CheckFence(db::WriteContext& tx, const v1::Fence& fence, absl::Time now);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_FENCE_H_
