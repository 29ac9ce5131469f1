// Fuzz target for hex quantities and decimal amounts: every conversion
// that succeeds round-trips to the canonical spelling of its input, the
// 64-bit parser agrees with the 256-bit one, and failures carry the
// documented code.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

#include "services/fetcher/chains/evm/hex_quantity.h"

namespace {

namespace evm = coffer::fetcher::evm;

void Check(bool condition) {
  if (!condition) std::abort();
}

// `digits` without leading zeros ("0" for all zeros), lowercase.
std::string Canonical(absl::string_view digits) {
  size_t first = 0;
  while (first + 1 < digits.size() && digits[first] == '0') ++first;
  return absl::AsciiStrToLower(digits.substr(first));
}

bool IsCanonicalDecimal(const std::string& decimal) {
  if (decimal.empty() || decimal.size() > 78) return false;
  if (decimal.size() > 1 && decimal[0] == '0') return false;
  for (char c : decimal) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

extern "C" const char* const* CofferFuzzSeeds(size_t* count) {
  static const char* const kSeeds[] = {
      "0x0",
      "0x00",
      "0xde0b6b3a7640000",
      "0X1BC16D674EC80000",
      "0xffffffffffffffff",
      "0x10000000000000000",
      "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "0x0000000000000000000000000000000000000000000000000000000000000000000000000001",
      "115792089237316195423570985008687907853269984665640564039457584007913129639935",
      "1000000000000000000",
      "0000000000000000000000000000000000000000000000000de0b6b3a7640000",
  };
  *count = std::size(kSeeds);
  return kSeeds;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view raw(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<std::string> decimal = evm::HexQuantityToDecimal(raw);
  if (decimal.ok()) {
    Check(IsCanonicalDecimal(*decimal));
    absl::StatusOr<std::string> back = evm::DecimalToHexQuantity(*decimal);
    Check(back.ok());
    Check(*back == "0x" + Canonical(raw.substr(2)));
    Check(*evm::HexQuantityToDecimal(*back) == *decimal);
  } else {
    Check(decimal.status().code() == absl::StatusCode::kDataLoss);
  }

  absl::StatusOr<uint64_t> number = evm::ParseUint64Quantity(raw);
  if (number.ok()) {
    Check(decimal.ok() && *decimal == std::to_string(*number));
    Check(evm::ToHexQuantity(*number) == "0x" + Canonical(raw.substr(2)));
  } else {
    Check(number.status().code() == absl::StatusCode::kDataLoss);
    // Only a value above 64 bits may parse as 256 bits and not as 64.
    if (decimal.ok()) Check(decimal->size() >= 20);
  }

  absl::StatusOr<std::string> word = evm::AbiWordToDecimal(raw);
  if (word.ok()) {
    Check(raw.size() == 64);
    Check(*word == *evm::HexDigitsToDecimal(raw));
  } else {
    Check(word.status().code() == absl::StatusCode::kDataLoss);
  }

  absl::StatusOr<std::string> hex = evm::DecimalToHexQuantity(raw);
  if (hex.ok()) {
    Check(*evm::HexQuantityToDecimal(*hex) == Canonical(raw));
  } else {
    Check(hex.status().code() == absl::StatusCode::kInvalidArgument);
  }
  return 0;
}
