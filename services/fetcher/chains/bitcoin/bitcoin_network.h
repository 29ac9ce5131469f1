// Which Bitcoin network a bip122 chain id names, so an address can be checked
// against the chain it is queried on (a testnet address on a mainnet Esplora
// would be answered "no funds", which is worse than an error).
//
//   absl::StatusOr<chain::BitcoinNetwork> network = BitcoinNetworkOfChain(chain_id);
//   if (!network.ok()) return network.status();
//
// common/chain/caip.cc holds the same mapping privately; it is repeated here
// until caip.h exports it.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_BITCOIN_NETWORK_H_
#define COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_BITCOIN_NETWORK_H_

#include "absl/status/statusor.h"

#include "common/chain/bitcoin_address.h"
#include "common/chain/caip.h"

namespace coffer::fetcher {

// Mainnet; testnet3, testnet4 and signet (which share address prefixes) as
// kTestnet; regtest. INVALID_ARGUMENT for a chain that is not bip122 or a
// bip122 reference coffer does not know.
[[nodiscard]] absl::StatusOr<chain::BitcoinNetwork> BitcoinNetworkOfChain(
    const chain::ChainId& chain);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_BITCOIN_NETWORK_H_
