// Hex helpers for tests that talk to an Ethereum node by hand: JSON-RPC
// quantities ("0x1b" <-> "27", up to 2^256-1, exact) and 32-byte ABI words,
// enough to hand-encode calls with static arguments and to read results made
// of static words. Production encoding and decoding live in the fetcher.
//
//   std::string data = absl::StrCat("0x70a08231", AddressWord(holder));
//   ASSIGN_OR_RETURN(std::vector<std::string> words, SplitWords(result_hex));
//   ASSIGN_OR_RETURN(std::string balance, WordToDecimal(words[0]));
#ifndef COFFER_TESTS_TESTING_EVM_HEX_H_
#define COFFER_TESTS_TESTING_EVM_HEX_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace coffer::testing {

// "27" -> "0x1b", "0" -> "0x0". INVALID_ARGUMENT unless a decimal below 2^256.
[[nodiscard]] absl::StatusOr<std::string> DecimalToQuantity(std::string_view decimal);

// "0x1b" -> "27". INVALID_ARGUMENT unless 0x-prefixed hex below 2^256.
[[nodiscard]] absl::StatusOr<std::string> QuantityToDecimal(std::string_view quantity);

// 64 lowercase hex digits of `value`, for an ABI uint256 argument.
std::string UintWord(uint64_t value);

// 64 lowercase hex digits of `decimal`. INVALID_ARGUMENT unless below 2^256.
[[nodiscard]] absl::StatusOr<std::string> DecimalWord(std::string_view decimal);

// The 20-byte `address` ("0x" + 40 hex digits, any case) left-padded to an
// ABI word, lowercase, without 0x.
std::string AddressWord(std::string_view address);

// "0x" + 40 lowercase hex digits: address number `n` of a range tests use for
// accounts nobody holds keys to (0x00...00c0ffee00000000 + n).
std::string TestAddress(uint32_t n);

// Splits ABI data ("0x" optional) into 64-digit words. INVALID_ARGUMENT when
// the length is not a whole number of words or a digit is not hex.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> SplitWords(std::string_view hex);

// A 64-digit word as a decimal string. INVALID_ARGUMENT when not 64 hex digits.
[[nodiscard]] absl::StatusOr<std::string> WordToDecimal(std::string_view word);

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_EVM_HEX_H_
