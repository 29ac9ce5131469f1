// The account filters several storage methods share (ListAccounts,
// GetLatestBalances, GetPortfolio, task parameters): a chain and a set of
// tags, validated once, the same way, and put in normal form so that equal
// filters compare (and fingerprint page tokens) equal.
#ifndef COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_FILTERS_H_
#define COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_FILTERS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace coffer::storage {

// Most tags an account, or a filter, has.
inline constexpr size_t kMaxTags = 16;

// [a-z0-9][a-z0-9_.-]{0,31}
bool IsValidTag(absl::string_view tag);

// Tags sorted, without duplicates. INVALID_ARGUMENT naming `field` (and the
// item, "tags[2]") for more than kMaxTags or a tag that is not valid.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> NormalizeTags(
    const google::protobuf::RepeatedPtrField<std::string>& tags, absl::string_view field);

// A CAIP-2 chain id in normal form; empty (every chain) stays empty.
// INVALID_ARGUMENT naming `field` otherwise.
[[nodiscard]] absl::StatusOr<std::string> NormalizeChainFilter(absl::string_view chain_id,
                                                               absl::string_view field);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_ACCOUNT_FILTERS_H_
