#include "services/storage/repos/query_plan.h"

#include "absl/strings/str_cat.h"

#include "common/status/status_macros.h"

namespace coffer::storage {

absl::StatusOr<std::vector<std::string>> QueryPlan(db::ReadContext& tx, absl::string_view sql) {
  ASSIGN_OR_RETURN(db::CachedStatement explain,
                   tx.Prepare(absl::StrCat("EXPLAIN QUERY PLAN ", sql)));
  std::vector<std::string> plan;
  while (true) {
    ASSIGN_OR_RETURN(bool row, explain->Step());
    if (!row) break;
    plan.emplace_back(explain->ColumnText(3));
  }
  return plan;
}

}  // namespace coffer::storage
