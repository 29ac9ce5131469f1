// EXPLAIN QUERY PLAN of a repository's SQL, for tests that pin which index
// a query uses (timing is never asserted; the plan is).
#ifndef COFFER_SERVICES_STORAGE_REPOS_QUERY_PLAN_H_
#define COFFER_SERVICES_STORAGE_REPOS_QUERY_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// The plan's detail lines ("SEARCH TABLE ... USING INDEX ..."), in order.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> QueryPlan(db::ReadContext& tx,
                                                                 absl::string_view sql);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_QUERY_PLAN_H_
