#include "tests/testing/anvil_fetcher_config.h"

#include "absl/strings/str_cat.h"

namespace coffer::testing {

std::string AnvilTokenAsset(const std::string& token) {
  return absl::StrCat(kAnvilChain, "/erc20:", token);
}

std::string AnvilFetcherConfig(const AnvilNode& node, const AnvilFetcherOptions& options) {
  return absl::StrCat(
      "chains {\n  chain_id: \"", kAnvilChain, "\"\n  name: \"anvil\"\n  kind: CHAIN_KIND_EVM\n",
      "  endpoints { name: \"anvil-0\" url: \"", node.url(), "\" batch_size: ", options.batch_size,
      " }\n", "  native_asset { asset_id: \"", kAnvilEther,
      "\" symbol: \"ETH\" name: \"Ether\" decimals: 18 }\n", "  tokens { asset_id: \"",
      AnvilTokenAsset(options.token), "\" symbol: \"CTST\" name: \"Coffer Test\" }\n",
      options.multicall.empty()
          ? ""
          : absl::StrCat("  multicall_address: \"", options.multicall, "\"\n"),
      "  aggregate_size: ", options.aggregate_size, "\n}\n");
}

}  // namespace coffer::testing
