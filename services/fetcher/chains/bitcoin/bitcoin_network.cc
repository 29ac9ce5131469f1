#include "services/fetcher/chains/bitcoin/bitcoin_network.h"

#include "absl/status/status.h"

namespace coffer::fetcher {

absl::StatusOr<chain::BitcoinNetwork> BitcoinNetworkOfChain(const chain::ChainId& chain) {
  if (!chain.IsBitcoin()) {
    return absl::InvalidArgumentError("not a bip122 chain");
  }
  if (absl::StatusOr<chain::BitcoinNetwork> network = chain::BitcoinNetworkOf(chain);
      network.ok()) {
    return network;
  }
  return absl::InvalidArgumentError(
      "unknown bip122 chain: expected mainnet, testnet3, testnet4, signet or regtest");
}

}  // namespace coffer::fetcher
