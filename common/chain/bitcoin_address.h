// Bitcoin addresses: legacy Base58Check (P2PKH, P2SH) and native segwit
// (Bech32 for witness version 0, Bech32m for versions 1 to 16), classified
// by type and network.
//
//   absl::StatusOr<BitcoinAddress> address = ParseBitcoinAddress(text);
//   if (!address.ok()) return address.status();  // INVALID_ARGUMENT
//   address->type;        // BitcoinAddressType::kP2wpkh
//   address->normalized;  // segwit addresses in lowercase
#ifndef COFFER_COMMON_CHAIN_BITCOIN_ADDRESS_H_
#define COFFER_COMMON_CHAIN_BITCOIN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::chain {

// The networks an address can name. Legacy testnet versions (0x6f, 0xc4) are
// shared by testnet, signet and regtest, so they parse as kTestnet, which
// AddressMatchesNetwork accepts for all three. Segwit "tb" is testnet and
// signet, "bcrt" regtest.
enum class BitcoinNetwork { kMainnet, kTestnet, kRegtest };

enum class BitcoinAddressType {
  kP2pkh,   // Base58Check, 20-byte public key hash.
  kP2sh,    // Base58Check, 20-byte script hash.
  kP2wpkh,  // Witness v0, 20-byte program.
  kP2wsh,   // Witness v0, 32-byte program.
  kP2tr,    // Witness v1, 32-byte program (taproot).
  // Witness v1 with another length, or v2 to v16: valid recipients that no
  // soft fork defines yet (BIP-350 asks senders to accept them).
  kWitnessUnknown,
};

struct BitcoinAddress {
  BitcoinAddressType type;
  BitcoinNetwork network;
  // 0 to 16 for segwit; -1 for Base58Check addresses.
  int witness_version;
  // The hash (legacy) or witness program (segwit), raw bytes.
  std::string program;
  // The spelling coffer stores and answers: Base58Check as given, segwit in
  // lowercase.
  std::string normalized;
};

// Parses and classifies `text`. INVALID_ARGUMENT, with a message saying what
// is wrong and not repeating the input, for anything that is not a valid
// mainnet, testnet or regtest address.
[[nodiscard]] absl::StatusOr<BitcoinAddress> ParseBitcoinAddress(absl::string_view text);

// Whether `address` may be used on a chain of network `chain`: the same
// network, or a legacy (Base58) testnet address on regtest, which shares its
// version bytes.
bool AddressMatchesNetwork(const BitcoinAddress& address, BitcoinNetwork chain);

// The output script the address pays to, raw bytes: OP_DUP OP_HASH160 <20>
// OP_EQUALVERIFY OP_CHECKSIG, OP_HASH160 <20> OP_EQUAL, or OP_n <program>.
std::string ScriptPubKey(const BitcoinAddress& address);

// "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "witness_unknown".
absl::string_view AddressTypeName(BitcoinAddressType type);

}  // namespace coffer::chain

#endif  // COFFER_COMMON_CHAIN_BITCOIN_ADDRESS_H_
