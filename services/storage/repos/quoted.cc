#include "services/storage/repos/quoted.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

#include "common/chain/caip.h"

namespace coffer::storage {

std::string Quoted(absl::string_view id) {
  if (id.size() > chain::kMaxIdLength) {
    return absl::StrCat("\"", absl::CEscape(id.substr(0, 32)), "...\" (", id.size(), " bytes)");
  }
  return absl::StrCat("\"", absl::CEscape(id), "\"");
}

}  // namespace coffer::storage
