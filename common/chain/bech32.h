// Bech32 (BIP-173) and Bech32m (BIP-350), the encodings of Bitcoin's segwit
// addresses: a human-readable part (hrp), the separator '1', 5-bit data
// values and a 6-character checksum that tells the two variants apart.
//
//   absl::StatusOr<Bech32Decoded> decoded = Bech32Decode("bc1qw508...");
//   // decoded->encoding, decoded->hrp ("bc", lowercase), decoded->data
#ifndef COFFER_COMMON_CHAIN_BECH32_H_
#define COFFER_COMMON_CHAIN_BECH32_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace coffer::chain {

enum class Bech32Encoding { kBech32, kBech32m };

// Longest string BIP-173 allows.
inline constexpr size_t kMaxBech32Length = 90;

struct Bech32Decoded {
  Bech32Encoding encoding;
  // Lowercase.
  std::string hrp;
  // 5-bit values, checksum removed.
  std::vector<uint8_t> data;
};

// Decodes either variant, telling which from the checksum. INVALID_ARGUMENT
// for: a character outside 33..126, mixed case, no separator, an empty hrp,
// fewer than 6 characters after the separator, more than 90 characters, a
// character outside the data alphabet, or a checksum valid in neither
// variant.
[[nodiscard]] absl::StatusOr<Bech32Decoded> Bech32Decode(absl::string_view text);

// Encodes 5-bit `data` (each value < 32) under `hrp` (lowercase, printable
// ASCII); lowercase output.
std::string Bech32Encode(Bech32Encoding encoding, absl::string_view hrp,
                         absl::Span<const uint8_t> data);

// Regroups bits, most significant first: 8 to 5 with `pad` (padding the last
// group with zero bits) and 5 to 8 without (failing on more than 4 bits or
// non-zero bits left over, as BIP-173 requires). Fails when an input value
// does not fit `from_bits`.
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> ConvertBits(absl::Span<const uint8_t> in,
                                                               int from_bits, int to_bits,
                                                               bool pad);

}  // namespace coffer::chain

#endif  // COFFER_COMMON_CHAIN_BECH32_H_
