#include "common/chain/bech32.h"

#include "absl/status/status.h"

namespace coffer::chain {
namespace {

constexpr char kCharset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr size_t kChecksumLength = 6;
constexpr uint32_t kBech32Const = 1;
constexpr uint32_t kBech32mConst = 0x2bc830a3;

uint32_t Polymod(const std::vector<uint8_t>& values) {
  static constexpr uint32_t kGenerator[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                             0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t value : values) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ value;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGenerator[i];
    }
  }
  return chk;
}

std::vector<uint8_t> HrpExpand(absl::string_view hrp) {
  std::vector<uint8_t> values;
  values.reserve(2 * hrp.size() + 1);
  for (char c : hrp) values.push_back(static_cast<uint8_t>(c) >> 5);
  values.push_back(0);
  for (char c : hrp) values.push_back(static_cast<uint8_t>(c) & 31);
  return values;
}

int CharsetIndex(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kCharset[i] == c) return i;
  }
  return -1;
}

}  // namespace

absl::StatusOr<Bech32Decoded> Bech32Decode(absl::string_view text) {
  if (text.size() > kMaxBech32Length) {
    return absl::InvalidArgumentError("bech32 string longer than 90 characters");
  }
  bool has_lower = false;
  bool has_upper = false;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 33 || byte > 126) {
      return absl::InvalidArgumentError("bech32 character out of range");
    }
    has_lower |= (c >= 'a' && c <= 'z');
    has_upper |= (c >= 'A' && c <= 'Z');
  }
  if (has_lower && has_upper) return absl::InvalidArgumentError("bech32 string has mixed case");

  size_t separator = text.rfind('1');
  if (separator == absl::string_view::npos) {
    return absl::InvalidArgumentError("bech32 string has no separator '1'");
  }
  if (separator == 0) return absl::InvalidArgumentError("bech32 string has an empty hrp");
  if (text.size() - separator - 1 < kChecksumLength) {
    return absl::InvalidArgumentError("bech32 checksum too short");
  }

  Bech32Decoded decoded;
  decoded.hrp.reserve(separator);
  for (char c : text.substr(0, separator)) {
    decoded.hrp.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
  std::vector<uint8_t> values = HrpExpand(decoded.hrp);
  for (char c : text.substr(separator + 1)) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    int value = CharsetIndex(c);
    if (value < 0) return absl::InvalidArgumentError("invalid bech32 data character");
    values.push_back(static_cast<uint8_t>(value));
    decoded.data.push_back(static_cast<uint8_t>(value));
  }
  uint32_t check = Polymod(values);
  if (check == kBech32Const) {
    decoded.encoding = Bech32Encoding::kBech32;
  } else if (check == kBech32mConst) {
    decoded.encoding = Bech32Encoding::kBech32m;
  } else {
    return absl::InvalidArgumentError("bad bech32 checksum");
  }
  decoded.data.resize(decoded.data.size() - kChecksumLength);
  return decoded;
}

std::string Bech32Encode(Bech32Encoding encoding, absl::string_view hrp,
                         absl::Span<const uint8_t> data) {
  std::vector<uint8_t> values = HrpExpand(hrp);
  values.insert(values.end(), data.begin(), data.end());
  values.insert(values.end(), kChecksumLength, 0);
  uint32_t polymod =
      Polymod(values) ^ (encoding == Bech32Encoding::kBech32 ? kBech32Const : kBech32mConst);
  std::string text(hrp);
  text.push_back('1');
  for (uint8_t value : data) text.push_back(kCharset[value & 31]);
  for (size_t i = 0; i < kChecksumLength; ++i) {
    text.push_back(kCharset[(polymod >> (5 * (5 - i))) & 31]);
  }
  return text;
}

absl::StatusOr<std::vector<uint8_t>> ConvertBits(absl::Span<const uint8_t> in, int from_bits,
                                                 int to_bits, bool pad) {
  uint32_t acc = 0;
  int bits = 0;
  const uint32_t max_value = (1u << to_bits) - 1;
  std::vector<uint8_t> out;
  out.reserve(in.size() * from_bits / to_bits + 1);
  for (uint8_t value : in) {
    if ((value >> from_bits) != 0) return absl::InvalidArgumentError("value out of range");
    acc = ((acc << from_bits) | value) & 0xfffff;
    bits += from_bits;
    while (bits >= to_bits) {
      bits -= to_bits;
      out.push_back(static_cast<uint8_t>((acc >> bits) & max_value));
    }
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<uint8_t>((acc << (to_bits - bits)) & max_value));
  } else if (bits >= from_bits) {
    return absl::InvalidArgumentError("too many padding bits");
  } else if (((acc << (to_bits - bits)) & max_value) != 0) {
    return absl::InvalidArgumentError("non-zero padding");
  }
  return out;
}

}  // namespace coffer::chain
