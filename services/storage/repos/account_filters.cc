#include "services/storage/repos/account_filters.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "common/chain/caip.h"
#include "services/storage/repos/quoted.h"

namespace coffer::storage {
namespace {

constexpr size_t kMaxTagLength = 32;

}  // namespace

bool IsValidTag(absl::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  for (size_t i = 0; i < tag.size(); ++i) {
    const char c = tag[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return false;
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> NormalizeTags(
    const google::protobuf::RepeatedPtrField<std::string>& tags, absl::string_view field) {
  if (static_cast<size_t>(tags.size()) > kMaxTags) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", tags.size(), " tags, at most ", kMaxTags));
  }
  std::set<std::string> unique;
  for (int i = 0; i < tags.size(); ++i) {
    if (!IsValidTag(tags[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "]: ", Quoted(tags[i]), " is not [a-z0-9][a-z0-9_.-]{0,31}"));
    }
    unique.insert(tags[i]);
  }
  return std::vector<std::string>(unique.begin(), unique.end());
}

absl::StatusOr<std::string> NormalizeChainFilter(absl::string_view chain_id,
                                                 absl::string_view field) {
  if (chain_id.empty()) return std::string();
  absl::StatusOr<chain::ChainId> parsed = chain::ParseChainId(chain_id);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", parsed.status().message()));
  }
  return parsed->ToString();
}

}  // namespace coffer::storage
