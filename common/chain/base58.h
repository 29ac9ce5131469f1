// Base58 and Base58Check, the encodings of Bitcoin's legacy (P2PKH, P2SH)
// addresses.
//
// Base58Check is a payload followed by the first 4 bytes of its double
// SHA-256 (computed with OpenSSL). Byte strings travel as std::string.
//
//   absl::StatusOr<std::string> payload = Base58CheckDecode(text);
//   // payload->front() is the version byte, the rest the hash.
#ifndef COFFER_COMMON_CHAIN_BASE58_H_
#define COFFER_COMMON_CHAIN_BASE58_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::chain {

// The longest text the decoders accept. Decoding is quadratic in the length,
// and every address is far shorter; longer input is INVALID_ARGUMENT.
inline constexpr size_t kMaxBase58Length = 128;

// Bytes to Base58 (each leading zero byte becomes a leading '1').
std::string Base58Encode(absl::string_view bytes);

// Base58 to bytes. INVALID_ARGUMENT on a character outside the alphabet
// (0, O, I, l and anything non-alphanumeric), empty or too long input.
[[nodiscard]] absl::StatusOr<std::string> Base58Decode(absl::string_view text);

// `payload` followed by its 4-byte double SHA-256 checksum, in Base58.
std::string Base58CheckEncode(absl::string_view payload);

// Decodes and verifies the checksum; returns the payload without it.
// INVALID_ARGUMENT "bad base58check checksum" on a mismatch.
[[nodiscard]] absl::StatusOr<std::string> Base58CheckDecode(absl::string_view text);

// SHA-256(SHA-256(bytes)), 32 bytes.
std::string DoubleSha256(absl::string_view bytes);

}  // namespace coffer::chain

#endif  // COFFER_COMMON_CHAIN_BASE58_H_
