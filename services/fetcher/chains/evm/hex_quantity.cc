#include "services/fetcher/chains/evm/hex_quantity.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include <boost/multiprecision/cpp_int.hpp>

namespace coffer::fetcher::evm {
namespace {

using boost::multiprecision::uint256_t;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<absl::string_view> Digits(absl::string_view quantity) {
  if (quantity.size() < 2 || quantity[0] != '0' || (quantity[1] != 'x' && quantity[1] != 'X')) {
    return absl::DataLossError("quantity: not \"0x\" followed by hex digits");
  }
  if (quantity.size() == 2) return absl::DataLossError("quantity: \"0x\" with no digits");
  return quantity.substr(2);
}

// `digits` without its leading zeros (but "0" stays "0").
absl::string_view Significant(absl::string_view digits) {
  size_t first = 0;
  while (first + 1 < digits.size() && digits[first] == '0') ++first;
  return digits.substr(first);
}

// `digits` (at most as many as `Unsigned` holds) as an `Unsigned`.
template <typename Unsigned>
absl::StatusOr<Unsigned> ParseHexDigits(absl::string_view digits) {
  Unsigned value = 0;
  for (char c : digits) {
    const int digit = HexValue(c);
    if (digit < 0) return absl::DataLossError("quantity: not a hex digit");
    value = (value << 4) | static_cast<unsigned>(digit);
  }
  return value;
}

// Base-10 digits of a value below 2^128: balances above 2^64 but short of
// Boost's general (and slower) conversion.
std::string Uint128ToDecimal(unsigned __int128 value) {
  char buffer[40];
  char* end = buffer + sizeof(buffer);
  char* at = end;
  do {
    *--at = static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  } while (value != 0);
  return std::string(at, end);
}

}  // namespace

absl::StatusOr<std::string> HexDigitsToDecimal(absl::string_view digits) {
  if (digits.empty()) return absl::DataLossError("quantity: no digits");
  digits = Significant(digits);
  if (digits.size() > 64) return absl::DataLossError("quantity: exceeds 2^256-1");
  // The narrowest type that holds the digits: most balances fit 64 bits.
  if (digits.size() <= 16) {
    absl::StatusOr<uint64_t> value = ParseHexDigits<uint64_t>(digits);
    if (!value.ok()) return value.status();
    return absl::StrCat(*value);
  }
  if (digits.size() <= 32) {
    absl::StatusOr<unsigned __int128> value = ParseHexDigits<unsigned __int128>(digits);
    if (!value.ok()) return value.status();
    return Uint128ToDecimal(*value);
  }
  absl::StatusOr<uint256_t> value = ParseHexDigits<uint256_t>(digits);
  if (!value.ok()) return value.status();
  return value->str();
}

absl::StatusOr<std::string> AbiWordToDecimal(absl::string_view word) {
  if (word.size() != 64) {
    return absl::DataLossError(absl::StrCat("ABI word: ", word.size(), " hex digits, not 64"));
  }
  return HexDigitsToDecimal(word);
}

absl::StatusOr<std::string> HexQuantityToDecimal(absl::string_view quantity) {
  absl::StatusOr<absl::string_view> digits = Digits(quantity);
  if (!digits.ok()) return digits.status();
  return HexDigitsToDecimal(*digits);
}

absl::StatusOr<uint64_t> ParseUint64Quantity(absl::string_view quantity) {
  absl::StatusOr<absl::string_view> digits = Digits(quantity);
  if (!digits.ok()) return digits.status();
  const absl::string_view significant = Significant(*digits);
  if (significant.size() > 16) {
    // Still tell a non-digit from an overflow.
    for (char c : significant) {
      if (HexValue(c) < 0) return absl::DataLossError("quantity: not a hex digit");
    }
    return absl::DataLossError("quantity: exceeds 64 bits");
  }
  return ParseHexDigits<uint64_t>(significant);
}

std::string ToHexQuantity(uint64_t value) { return absl::StrCat("0x", absl::Hex(value)); }

absl::StatusOr<std::string> DecimalToHexQuantity(absl::string_view decimal) {
  if (decimal.empty()) return absl::InvalidArgumentError("amount: empty");
  size_t first = 0;
  while (first + 1 < decimal.size() && decimal[first] == '0') ++first;
  decimal.remove_prefix(first);
  // 2^256-1 has 78 decimal digits; a longer input cannot fit, and checking
  // first keeps the loop below from working on huge inputs.
  if (decimal.size() > 78) return absl::InvalidArgumentError("amount: exceeds 2^256-1");
  boost::multiprecision::uint512_t value = 0;
  for (char c : decimal) {
    if (c < '0' || c > '9') return absl::InvalidArgumentError("amount: not a decimal digit");
    value = value * 10 + (c - '0');
  }
  if (value > boost::multiprecision::uint512_t(std::numeric_limits<uint256_t>::max())) {
    return absl::InvalidArgumentError("amount: exceeds 2^256-1");
  }
  std::string hex;
  if (value == 0) hex = "0";
  while (value != 0) {
    hex.push_back("0123456789abcdef"[static_cast<unsigned>(value & 0xf)]);
    value >>= 4;
  }
  return absl::StrCat("0x", std::string(hex.rbegin(), hex.rend()));
}

}  // namespace coffer::fetcher::evm
