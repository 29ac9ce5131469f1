// SHA-256 for the repositories: snapshot content hashes and the filter
// digests that page tokens carry.
#ifndef COFFER_SERVICES_STORAGE_REPOS_DIGEST_H_
#define COFFER_SERVICES_STORAGE_REPOS_DIGEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::storage {

// The raw 32-byte digest (hex-encode it before putting it in text).
absl::StatusOr<std::string> Sha256(absl::string_view bytes);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_DIGEST_H_
