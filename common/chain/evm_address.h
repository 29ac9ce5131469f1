// EVM account and contract addresses: "0x" and 40 hex digits, with the
// EIP-55 mixed-case checksum.
//
// Parsing accepts all-lowercase and all-uppercase hex digits as they are (no
// checksum to check) and requires mixed case to be exactly the EIP-55
// spelling, so a mistyped letter of a checksummed address is caught. coffer
// answers every EVM address in its EIP-55 form (see common.proto).
//
//   absl::StatusOr<EvmAddress> address = ParseEvmAddress(text);
//   if (!address.ok()) return address.status();  // INVALID_ARGUMENT
//   std::string id = ToChecksumAddress(*address);  // "0x5aAeb6053F3E94C9..."
#ifndef COFFER_COMMON_CHAIN_EVM_ADDRESS_H_
#define COFFER_COMMON_CHAIN_EVM_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::chain {

// The 20 bytes of an address.
using EvmAddress = std::array<uint8_t, 20>;

// Parses "0x" + 40 hex digits. INVALID_ARGUMENT, with a message that does
// not repeat the input (callers prefix the field), when the prefix or length
// is wrong ("address must be 40 hex digits"), a digit is not hex, or mixed
// case fails the checksum ("bad EIP-55 checksum").
[[nodiscard]] absl::StatusOr<EvmAddress> ParseEvmAddress(absl::string_view text);

// The EIP-55 spelling: "0x" + 40 hex digits, letters uppercased where the
// Keccak-256 of the lowercase hex has a nibble of 8 or more.
std::string ToChecksumAddress(const EvmAddress& address);

// ParseEvmAddress then ToChecksumAddress: the one normal form of `text`.
[[nodiscard]] absl::StatusOr<std::string> NormalizeEvmAddress(absl::string_view text);

}  // namespace coffer::chain

#endif  // COFFER_COMMON_CHAIN_EVM_ADDRESS_H_
