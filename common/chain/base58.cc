#include "common/chain/base58.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/status/status.h"
#include <openssl/evp.h>

namespace coffer::chain {
namespace {

constexpr char kAlphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr size_t kChecksumSize = 4;

int AlphabetIndex(char c) {
  for (int i = 0; i < 58; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

std::string Sha256(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // EVP_Digest with SHA-256 fails only on allocation failure.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace

std::string DoubleSha256(absl::string_view bytes) { return Sha256(Sha256(bytes)); }

std::string Base58Encode(absl::string_view bytes) {
  size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == '\0') ++zeros;
  // Base-58 digits, least significant first; log(256)/log(58) < 1.37.
  std::vector<uint8_t> digits;
  digits.reserve(bytes.size() * 137 / 100 + 1);
  for (size_t i = zeros; i < bytes.size(); ++i) {
    uint32_t carry = static_cast<uint8_t>(bytes[i]);
    for (uint8_t& digit : digits) {
      carry += static_cast<uint32_t>(digit) << 8;
      digit = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string text(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) text.push_back(kAlphabet[*it]);
  return text;
}

absl::StatusOr<std::string> Base58Decode(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty base58 string");
  if (text.size() > kMaxBase58Length) {
    return absl::InvalidArgumentError("base58 string too long");
  }
  size_t ones = 0;
  while (ones < text.size() && text[ones] == '1') ++ones;
  // Bytes, least significant first.
  std::vector<uint8_t> bytes;
  bytes.reserve(text.size());
  for (size_t i = ones; i < text.size(); ++i) {
    int value = AlphabetIndex(text[i]);
    if (value < 0) return absl::InvalidArgumentError("invalid base58 character");
    uint32_t carry = static_cast<uint32_t>(value);
    for (uint8_t& byte : bytes) {
      carry += static_cast<uint32_t>(byte) * 58;
      byte = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  std::string result(ones, '\0');
  for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) {
    result.push_back(static_cast<char>(*it));
  }
  return result;
}

std::string Base58CheckEncode(absl::string_view payload) {
  std::string data(payload);
  data += DoubleSha256(payload).substr(0, kChecksumSize);
  return Base58Encode(data);
}

absl::StatusOr<std::string> Base58CheckDecode(absl::string_view text) {
  absl::StatusOr<std::string> data = Base58Decode(text);
  if (!data.ok()) return data.status();
  if (data->size() < kChecksumSize) {
    return absl::InvalidArgumentError("base58check string too short");
  }
  absl::string_view all(*data);
  absl::string_view payload = all.substr(0, all.size() - kChecksumSize);
  if (DoubleSha256(payload).substr(0, kChecksumSize) != all.substr(payload.size())) {
    return absl::InvalidArgumentError("bad base58check checksum");
  }
  return std::string(payload);
}

}  // namespace coffer::chain
