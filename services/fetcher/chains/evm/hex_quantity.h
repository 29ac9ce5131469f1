// JSON-RPC hex quantities ("0x1bc16d674ec80000") and the fetcher's exact
// decimal amounts: balances up to 2^256-1 convert without loss
// (Boost.Multiprecision), block numbers to and from uint64.
//
//   HexQuantityToDecimal("0xde0b6b3a7640000");  // "1000000000000000000"
//   ToHexQuantity(42);                          // "0x2a"
//
// Quantities come from untrusted nodes: anything but "0x" and 1 to 64 hex
// digits is DATA_LOSS naming what is wrong. Leading zeros, which the
// JSON-RPC spec forbids but some nodes send, are accepted.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_HEX_QUANTITY_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_HEX_QUANTITY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::fetcher::evm {

// "0x..." with at most 64 significant hex digits to base-10 digits.
[[nodiscard]] absl::StatusOr<std::string> HexQuantityToDecimal(absl::string_view quantity);

// Hex digits (no "0x", any length up to 64 significant digits, as in a
// 32-byte ABI word) to base-10 digits.
[[nodiscard]] absl::StatusOr<std::string> HexDigitsToDecimal(absl::string_view digits);

// "0x..." that fits in 64 bits.
[[nodiscard]] absl::StatusOr<uint64_t> ParseUint64Quantity(absl::string_view quantity);

// The JSON-RPC form of `value`: "0x0", "0x2a".
std::string ToHexQuantity(uint64_t value);

}  // namespace coffer::fetcher::evm

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_HEX_QUANTITY_H_
