// Account and asset ids as people type them: `--chain eip155:1` lets a bare
// address stand for "eip155:1:<address>" and a bare asset ("slip44:60")
// for "eip155:1/slip44:60". Shared by every command that takes ids, so they
// all read a command line the same way.
#ifndef COFFER_TOOLS_COFFERCTL_IDS_H_
#define COFFER_TOOLS_COFFERCTL_IDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::cofferctl {

// OK for an empty --chain or a CAIP-2 id; a usage error naming --chain
// otherwise (so a typo is one error, not one per id).
absl::Status CheckChainFlag(absl::string_view chain);

// `id` itself when it names a chain (addresses never hold ':'), else
// "chain:id"; a usage error when it names none and `chain` is empty.
absl::StatusOr<std::string> CompleteAccountId(const std::string& id, absl::string_view chain);
// CompleteAccountId of each id, in place.
absl::Status CompleteAccountIds(std::vector<std::string>& ids, absl::string_view chain);

// `asset` itself when it names a chain (CAIP-19 has a '/'), else
// "chain/asset"; a usage error when it names none and `chain` is empty.
absl::StatusOr<std::string> CompleteAssetId(const std::string& asset, absl::string_view chain);

// "eip155:1" of "eip155:1:0xabc" (CAIP-10) and of "eip155:1/slip44:60"
// (CAIP-19).
absl::string_view ChainOfAccount(absl::string_view account_id);
absl::string_view ChainOfAsset(absl::string_view asset_id);

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_IDS_H_
