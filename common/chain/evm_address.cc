#include "common/chain/evm_address.h"

#include <cstddef>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"

#include "common/chain/keccak.h"

namespace coffer::chain {
namespace {

constexpr size_t kHexDigits = 40;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The 40 lowercase hex digits of `address`, without "0x".
std::string LowerHex(const EvmAddress& address) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(kHexDigits);
  for (uint8_t byte : address) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

}  // namespace

absl::StatusOr<EvmAddress> ParseEvmAddress(absl::string_view text) {
  if (text.size() < 2 || text[0] != '0' || text[1] != 'x') {
    return absl::InvalidArgumentError("address must start with 0x");
  }
  absl::string_view digits = text.substr(2);
  if (digits.size() != kHexDigits) {
    return absl::InvalidArgumentError("address must be 40 hex digits");
  }
  EvmAddress address;
  bool has_lower = false;
  bool has_upper = false;
  for (size_t i = 0; i < kHexDigits; ++i) {
    char c = digits[i];
    int value = HexValue(c);
    if (value < 0) return absl::InvalidArgumentError("address must be 40 hex digits");
    has_lower |= (c >= 'a' && c <= 'f');
    has_upper |= (c >= 'A' && c <= 'F');
    if (i % 2 == 0) {
      address[i / 2] = static_cast<uint8_t>(value << 4);
    } else {
      address[i / 2] |= static_cast<uint8_t>(value);
    }
  }
  if (has_lower && has_upper && ToChecksumAddress(address).substr(2) != digits) {
    return absl::InvalidArgumentError("bad EIP-55 checksum");
  }
  return address;
}

std::string ToChecksumAddress(const EvmAddress& address) {
  std::string hex = LowerHex(address);
  Keccak256Digest hash = Keccak256(hex);
  for (size_t i = 0; i < hex.size(); ++i) {
    uint8_t nibble = (i % 2 == 0) ? (hash[i / 2] >> 4) : (hash[i / 2] & 0xf);
    if (hex[i] >= 'a' && nibble >= 8) hex[i] = static_cast<char>(hex[i] - 'a' + 'A');
  }
  return "0x" + hex;
}

absl::StatusOr<std::string> NormalizeEvmAddress(absl::string_view text) {
  absl::StatusOr<EvmAddress> address = ParseEvmAddress(text);
  if (!address.ok()) return address.status();
  // Mixed case passed ParseEvmAddress only by equalling its checksum form
  // already: no second hash (the fetcher normalizes every address asked).
  const bool has_lower = absl::c_any_of(text, [](char c) { return c >= 'a' && c <= 'f'; });
  const bool has_upper = absl::c_any_of(text, [](char c) { return c >= 'A' && c <= 'F'; });
  if (has_lower && has_upper) return std::string(text);
  return ToChecksumAddress(*address);
}

}  // namespace coffer::chain
