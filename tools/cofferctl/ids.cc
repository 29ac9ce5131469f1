#include "tools/cofferctl/ids.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "common/chain/caip.h"
#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

absl::Status CheckChainFlag(absl::string_view chain) {
  if (chain.empty() || chain::ParseChainId(chain).ok()) return absl::OkStatus();
  return UsageError(absl::StrCat("--chain \"", chain,
                                 "\" is not a CAIP-2 chain id (eip155:1, "
                                 "bip122:000000000019d6689c085ae165831e93)"));
}

absl::StatusOr<std::string> CompleteAccountId(const std::string& id, absl::string_view chain) {
  if (absl::StrContains(id, ':')) return id;
  if (chain.empty()) {
    return UsageError(absl::StrCat("\"", id,
                                   "\" names no chain: give a CAIP-10 id "
                                   "(eip155:1:0x...) or --chain"));
  }
  return absl::StrCat(chain, ":", id);
}

absl::Status CompleteAccountIds(std::vector<std::string>& ids, absl::string_view chain) {
  for (std::string& id : ids) {
    absl::StatusOr<std::string> complete = CompleteAccountId(id, chain);
    if (!complete.ok()) return complete.status();
    id = *std::move(complete);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CompleteAssetId(const std::string& asset, absl::string_view chain) {
  if (absl::StrContains(asset, '/')) return asset;
  if (chain.empty()) {
    return UsageError(absl::StrCat("--asset \"", asset,
                                   "\" names no chain: give a CAIP-19 id "
                                   "(eip155:1/slip44:60) or --chain"));
  }
  return absl::StrCat(chain, "/", asset);
}

absl::string_view ChainOfAccount(absl::string_view account_id) {
  return account_id.substr(0, account_id.rfind(':'));
}

absl::string_view ChainOfAsset(absl::string_view asset_id) {
  return asset_id.substr(0, asset_id.find('/'));
}

}  // namespace coffer::cofferctl
