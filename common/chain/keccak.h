// Keccak-256 as Ethereum uses it (EIP-55 checksums, selectors, addresses).
//
// This is the original Keccak submission with the multi-rate padding
// 0x01 ... 0x80, not the FIPS 202 SHA3-256 (domain byte 0x06): the two differ
// on every input. OpenSSL 3.0 (Debian's) offers only SHA3 (Keccak-256 arrived
// as "KECCAK-256" in OpenSSL 3.2), and no Debian C or C++ package ships
// Keccak-256 (only Rust crates do), so coffer carries this small
// implementation of the Keccak-f[1600] permutation and sponge.
//
//   std::string digest = coffer::chain::Keccak256Hex("abc");
//   // "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
#ifndef COFFER_COMMON_CHAIN_KECCAK_H_
#define COFFER_COMMON_CHAIN_KECCAK_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace coffer::chain {

using Keccak256Digest = std::array<uint8_t, 32>;

// The 32-byte Keccak-256 digest of `data`.
Keccak256Digest Keccak256(absl::string_view data);

// Keccak256(data) as 64 lowercase hex digits.
std::string Keccak256Hex(absl::string_view data);

namespace internal {

// The 256-bit sponge (rate 136 bytes) with `domain` as the first padding
// byte: 0x01 is Keccak-256, 0x06 is SHA3-256. Exposed so tests can check the
// permutation and the multi-block absorption against OpenSSL's SHA3-256.
Keccak256Digest KeccakSponge256(absl::string_view data, uint8_t domain);

}  // namespace internal
}  // namespace coffer::chain

#endif  // COFFER_COMMON_CHAIN_KECCAK_H_
