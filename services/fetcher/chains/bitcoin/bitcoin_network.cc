#include "services/fetcher/chains/bitcoin/bitcoin_network.h"

#include "absl/status/status.h"

namespace coffer::fetcher {

absl::StatusOr<chain::BitcoinNetwork> BitcoinNetworkOfChain(const chain::ChainId& chain) {
  if (!chain.IsBitcoin()) {
    return absl::InvalidArgumentError("not a bip122 chain");
  }
  if (chain.reference == chain::kBitcoinMainnetReference) return chain::BitcoinNetwork::kMainnet;
  if (chain.reference == chain::kBitcoinTestnetReference ||
      chain.reference == chain::kBitcoinTestnet4Reference ||
      chain.reference == chain::kBitcoinSignetReference) {
    return chain::BitcoinNetwork::kTestnet;
  }
  if (chain.reference == chain::kBitcoinRegtestReference) return chain::BitcoinNetwork::kRegtest;
  return absl::InvalidArgumentError(
      "unknown bip122 chain: expected mainnet, testnet3, testnet4, signet or regtest");
}

}  // namespace coffer::fetcher
