#include "services/fetcher/chains/evm/hex_quantity.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include <boost/multiprecision/cpp_int.hpp>

namespace coffer::fetcher::evm {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<absl::string_view> Digits(absl::string_view quantity) {
  if (quantity.size() < 3 || quantity[0] != '0' || (quantity[1] != 'x' && quantity[1] != 'X')) {
    return absl::DataLossError("quantity: not \"0x\" followed by hex digits");
  }
  return quantity.substr(2);
}

}  // namespace

absl::StatusOr<std::string> HexDigitsToDecimal(absl::string_view digits) {
  if (digits.empty()) return absl::DataLossError("quantity: no digits");
  size_t first = 0;
  while (first + 1 < digits.size() && digits[first] == '0') ++first;
  if (digits.size() - first > 64) return absl::DataLossError("quantity: exceeds 2^256-1");
  boost::multiprecision::uint256_t value = 0;
  for (size_t i = first; i < digits.size(); ++i) {
    const int digit = HexValue(digits[i]);
    if (digit < 0) return absl::DataLossError("quantity: not a hex digit");
    value = (value << 4) | digit;
  }
  return value.str();
}

absl::StatusOr<std::string> HexQuantityToDecimal(absl::string_view quantity) {
  absl::StatusOr<absl::string_view> digits = Digits(quantity);
  if (!digits.ok()) return digits.status();
  return HexDigitsToDecimal(*digits);
}

absl::StatusOr<uint64_t> ParseUint64Quantity(absl::string_view quantity) {
  absl::StatusOr<absl::string_view> digits = Digits(quantity);
  if (!digits.ok()) return digits.status();
  uint64_t value = 0;
  size_t significant = 0;
  for (char c : *digits) {
    const int digit = HexValue(c);
    if (digit < 0) return absl::DataLossError("quantity: not a hex digit");
    if (significant > 0 || digit != 0) ++significant;
    if (significant > 16) return absl::DataLossError("quantity: exceeds 64 bits");
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  return value;
}

std::string ToHexQuantity(uint64_t value) { return absl::StrCat("0x", absl::Hex(value)); }

}  // namespace coffer::fetcher::evm
