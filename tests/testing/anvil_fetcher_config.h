// The coffer-fetcher configuration (textproto) for an AnvilNode: its chain
// with the node as the one endpoint, ether as the native asset and a test
// token, read through Multicall3 when one is named (else the deployless
// scanner). Integration tests write it to a file for --config.
//
//   std::ofstream(path) << AnvilFetcherConfig(*node, {.token = token});
#ifndef COFFER_TESTS_TESTING_ANVIL_FETCHER_CONFIG_H_
#define COFFER_TESTS_TESTING_ANVIL_FETCHER_CONFIG_H_

#include <string>

#include "tests/testing/anvil.h"

namespace coffer::testing {

// The chain anvil runs (--chain-id 31337) and its native asset.
inline constexpr char kAnvilChain[] = "eip155:31337";
inline constexpr char kAnvilEther[] = "eip155:31337/slip44:60";

struct AnvilFetcherOptions {
  // The test token's contract address (6 decimals, "CTST").
  std::string token;
  // Multicall3's address; empty: the deployless scanner.
  std::string multicall = {};
  int aggregate_size = 500;
  int batch_size = 100;
};

// The token's CAIP-19 id.
std::string AnvilTokenAsset(const std::string& token);

std::string AnvilFetcherConfig(const AnvilNode& node, const AnvilFetcherOptions& options);

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_ANVIL_FETCHER_CONFIG_H_
