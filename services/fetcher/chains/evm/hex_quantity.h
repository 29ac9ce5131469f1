// JSON-RPC hex quantities ("0x1bc16d674ec80000") and the fetcher's exact
// decimal amounts: balances up to 2^256-1 convert without loss
// (Boost.Multiprecision), block numbers to and from uint64.
//
//   HexQuantityToDecimal("0xde0b6b3a7640000");  // "1000000000000000000"
//   AbiWordToDecimal(std::string(63, '0') + "7");  // "7"
//   ParseUint64Quantity("0x12a05f200");          // 5000000000
//   ToHexQuantity(42);                           // "0x2a"
//   DecimalToHexQuantity("1000000000000000000"); // "0xde0b6b3a7640000"
//
// Quantities come from untrusted nodes: anything but "0x" (or "0X") and at
// least one hex digit of either case is DATA_LOSS naming what is wrong;
// "0x" alone, signs, spaces and values above the type's range are errors.
// Leading zeros, which the JSON-RPC spec forbids but some nodes send (and
// every 32-byte ABI word has), are accepted and ignored, however many.
// Outputs are canonical: decimal without leading zeros, "0x" + lowercase
// hex without leading zeros ("0x0" for zero).
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_HEX_QUANTITY_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_HEX_QUANTITY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::fetcher::evm {

// "0x..." with at most 64 significant hex digits (2^256-1) to base-10
// digits.
[[nodiscard]] absl::StatusOr<std::string> HexQuantityToDecimal(absl::string_view quantity);

// Hex digits without "0x" (any number of leading zeros, at most 64
// significant digits) to base-10 digits.
[[nodiscard]] absl::StatusOr<std::string> HexDigitsToDecimal(absl::string_view digits);

// One 32-byte ABI word as eth_call results spell it: exactly 64 hex digits,
// no "0x", read as a uint256.
[[nodiscard]] absl::StatusOr<std::string> AbiWordToDecimal(absl::string_view word);

// "0x..." that fits in 64 bits: block numbers, timestamps, chain ids.
[[nodiscard]] absl::StatusOr<uint64_t> ParseUint64Quantity(absl::string_view quantity);

// The JSON-RPC form of `value`: "0x0", "0x2a".
std::string ToHexQuantity(uint64_t value);

// Base-10 digits (no sign, no spaces; leading zeros allowed) up to 2^256-1
// to the JSON-RPC form. INVALID_ARGUMENT otherwise: the input is ours
// (amounts from callers), not a node's.
[[nodiscard]] absl::StatusOr<std::string> DecimalToHexQuantity(absl::string_view decimal);

}  // namespace coffer::fetcher::evm

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_HEX_QUANTITY_H_
