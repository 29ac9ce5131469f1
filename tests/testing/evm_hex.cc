#include "tests/testing/evm_hex.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include <boost/multiprecision/cpp_int.hpp>

namespace coffer::testing {
namespace {

using boost::multiprecision::cpp_int;

// Debian's Abseil has its own string_view, which StrCat wants.
absl::string_view Sv(std::string_view text) { return absl::string_view(text.data(), text.size()); }

const cpp_int& Limit() {
  static const cpp_int limit = cpp_int(1) << 256;
  return limit;
}

bool AllOf(std::string_view text, bool (*predicate)(unsigned char)) {
  for (char c : text) {
    if (!predicate(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<cpp_int> ParseDecimal(std::string_view decimal) {
  if (decimal.empty() || decimal.size() > 78 || !AllOf(decimal, absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(absl::StrCat("not a decimal uint256: ", Sv(decimal)));
  }
  cpp_int value{std::string(decimal)};
  if (value >= Limit())
    return absl::InvalidArgumentError(absl::StrCat("above 2^256: ", Sv(decimal)));
  return value;
}

absl::StatusOr<cpp_int> ParseHexDigits(std::string_view digits) {
  if (digits.empty() || digits.size() > 64 || !AllOf(digits, absl::ascii_isxdigit)) {
    return absl::InvalidArgumentError(absl::StrCat("not a hex uint256: ", Sv(digits)));
  }
  return cpp_int(absl::StrCat("0x", Sv(digits)));
}

std::string HexDigits(const cpp_int& value) {
  std::string digits = value.str(0, std::ios_base::hex);
  absl::AsciiStrToLower(&digits);
  return digits;
}

std::string PadWord(std::string_view digits) {
  return absl::StrCat(std::string(64 - std::min<size_t>(64, digits.size()), '0'), Sv(digits));
}

}  // namespace

absl::StatusOr<std::string> DecimalToQuantity(std::string_view decimal) {
  absl::StatusOr<cpp_int> value = ParseDecimal(decimal);
  if (!value.ok()) return value.status();
  return absl::StrCat("0x", HexDigits(*value));
}

absl::StatusOr<std::string> QuantityToDecimal(std::string_view quantity) {
  if (quantity.substr(0, 2) != "0x") {
    return absl::InvalidArgumentError(absl::StrCat("quantity without 0x: ", Sv(quantity)));
  }
  absl::StatusOr<cpp_int> value = ParseHexDigits(quantity.substr(2));
  if (!value.ok()) return value.status();
  return value->str();
}

std::string UintWord(uint64_t value) { return absl::StrFormat("%064x", value); }

absl::StatusOr<std::string> DecimalWord(std::string_view decimal) {
  absl::StatusOr<cpp_int> value = ParseDecimal(decimal);
  if (!value.ok()) return value.status();
  return PadWord(HexDigits(*value));
}

std::string AddressWord(std::string_view address) {
  if (address.substr(0, 2) == "0x") address.remove_prefix(2);
  return absl::AsciiStrToLower(PadWord(address));
}

std::string TestAddress(uint32_t n) {
  return absl::StrFormat("0x00000000000000000000000000c0ffee%08x", n);
}

absl::StatusOr<std::vector<std::string>> SplitWords(std::string_view hex) {
  if (hex.substr(0, 2) == "0x") hex.remove_prefix(2);
  if (hex.size() % 64 != 0 || !AllOf(hex, absl::ascii_isxdigit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not whole ABI words (", hex.size(), " hex digits)"));
  }
  std::vector<std::string> words;
  for (size_t i = 0; i < hex.size(); i += 64) words.emplace_back(hex.substr(i, 64));
  return words;
}

absl::StatusOr<std::string> WordToDecimal(std::string_view word) {
  if (word.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat("not a 64-digit word: ", Sv(word)));
  }
  absl::StatusOr<cpp_int> value = ParseHexDigits(word);
  if (!value.ok()) return value.status();
  return value->str();
}

}  // namespace coffer::testing
