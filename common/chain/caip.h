// CAIP identifiers, the way coffer names chains, accounts and assets (see
// protos/coffer/v1/common.proto):
//
//   CAIP-2  chain id    eip155:1
//                       bip122:000000000019d6689c085ae165831e93
//   CAIP-10 account id  eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B
//                       bip122:000000000019d6689c085ae165831e93:bc1q...
//   CAIP-19 asset id    eip155:1/slip44:60
//                       eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48
//                       bip122:000000000019d6689c085ae165831e93/slip44:0
//
// Parsing validates syntax and, for accounts and assets, the address for its
// namespace, and normalizes: EVM addresses to EIP-55, bech32 to lowercase.
// ToString() of a parsed id is the normal form services store and answer,
// so equal ids compare equal as strings.
//
// Every error is INVALID_ARGUMENT and names the id and what is wrong:
// "account id eip155:1:0x12: address must be 40 hex digits". Ids longer than
// 200 bytes are rejected without being echoed.
//
//   absl::StatusOr<AccountId> account = ParseAccountId(request.account_id());
//   if (!account.ok()) return account.status();
//   std::string key = account->ToString();
#ifndef COFFER_COMMON_CHAIN_CAIP_H_
#define COFFER_COMMON_CHAIN_CAIP_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "common/chain/bitcoin_address.h"

namespace coffer::chain {

// No id is longer than this (common.proto).
inline constexpr size_t kMaxIdLength = 200;

// CAIP-2 references of the Bitcoin chains coffer knows (the first 16 bytes of
// each genesis block hash, in hex). Testnet3, testnet4 and signet take "tb"
// and legacy testnet addresses; regtest "bcrt" and legacy testnet ones.
inline constexpr absl::string_view kBitcoinMainnetReference = "000000000019d6689c085ae165831e93";
inline constexpr absl::string_view kBitcoinTestnetReference = "000000000933ea01ad0ee984209779ba";
inline constexpr absl::string_view kBitcoinTestnet4Reference = "00000000da84f2bafbbc53dee25a72ae";
inline constexpr absl::string_view kBitcoinSignetReference = "00000008819873e925422c1ff0f207a1";
inline constexpr absl::string_view kBitcoinRegtestReference = "0f9188f13cb7b2c71f2a335e3a4fc328";

// CAIP-2. `chain_namespace` is [-a-z0-9]{3,8}, `reference` [-_a-zA-Z0-9]{1,32}.
// For eip155 the reference must also be a decimal chain id without leading
// zeros; for bip122, 32 lowercase hex digits. Other namespaces parse as
// chain ids, but accounts and assets on them are rejected.
struct ChainId {
  std::string chain_namespace;
  std::string reference;

  std::string ToString() const;
  bool IsEvm() const { return chain_namespace == "eip155"; }
  bool IsBitcoin() const { return chain_namespace == "bip122"; }
  friend bool operator==(const ChainId&, const ChainId&) = default;
};

// CAIP-10: `address` validated for the chain (EVM: EIP-55 rules; bip122: a
// Base58Check or segwit address of that chain's network, which must be one of
// the known chains above) and normalized.
struct AccountId {
  ChainId chain;
  std::string address;

  std::string ToString() const;
  friend bool operator==(const AccountId&, const AccountId&) = default;
};

// CAIP-19 without token ids. `asset_namespace` "slip44" (a decimal coin type,
// any chain) or "erc20" (a contract address, eip155 only, normalized to
// EIP-55).
struct AssetId {
  ChainId chain;
  std::string asset_namespace;
  std::string asset_reference;

  std::string ToString() const;
  bool IsNative() const { return asset_namespace == "slip44"; }
  friend bool operator==(const AssetId&, const AssetId&) = default;
};

[[nodiscard]] absl::StatusOr<ChainId> ParseChainId(absl::string_view text);

// The network whose addresses a bip122 chain takes (testnet3, testnet4 and
// signet share testnet's); NOT_FOUND for a chain not among the known ones.
[[nodiscard]] absl::StatusOr<BitcoinNetwork> BitcoinNetworkOf(const ChainId& chain);
[[nodiscard]] absl::StatusOr<AccountId> ParseAccountId(absl::string_view text);
[[nodiscard]] absl::StatusOr<AssetId> ParseAssetId(absl::string_view text);

// Parse then ToString: the normal form of an id, or why it is invalid.
[[nodiscard]] absl::StatusOr<std::string> NormalizeAccountId(absl::string_view text);
[[nodiscard]] absl::StatusOr<std::string> NormalizeAssetId(absl::string_view text);

}  // namespace coffer::chain

#endif  // COFFER_COMMON_CHAIN_CAIP_H_
