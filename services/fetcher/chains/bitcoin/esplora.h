// Requests to and answers from an Esplora-compatible REST API (Blockstream's
// esplora, mempool.space, electrs-esplora): what the Bitcoin chain reader
// sends and how it reads what comes back. No I/O here: paths out, bodies in.
//
//   ASSIGN_OR_RETURN(std::string path, EsploraAddressPath(address, network));
//   // GET <endpoint url> + path, then:
//   absl::StatusOr<EsploraAddressBalance> balance = ParseEsploraAddress(body, address);
//   // balance->confirmed "150000000" (satoshis, decimals kSatoshiDecimals)
//
// Blocks: Esplora answers balances at its current tip only; there is no way
// to read an address at a given height. A Bitcoin balance therefore carries
// the tip seen when it was read: the reader fetches kEsploraTipHeightPath
// (and kEsploraTipHashPath) for the request and records that height with
// each balance, as common.proto's BlockSelector allows. A block arriving
// between the tip read and an address read can make a balance newer than
// the height it states, never older.
//
// Bodies are untrusted. Every parse failure is DATA_LOSS naming the field
// ("chain_stats.funded_txo_sum: is negative"); a body never crashes the
// parser, which is fuzzed (tests/services/fetcher/chains/bitcoin/
// esplora_fuzz.cc).
#ifndef COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_ESPLORA_H_
#define COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_ESPLORA_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "common/chain/bitcoin_address.h"

namespace coffer::fetcher {

// Bitcoin amounts are in satoshis: 10^-8 BTC.
inline constexpr uint32_t kSatoshiDecimals = 8;

inline constexpr absl::string_view kEsploraTipHeightPath = "/blocks/tip/height";
inline constexpr absl::string_view kEsploraTipHashPath = "/blocks/tip/hash";

// Largest /address body accepted: a real one is a few hundred bytes.
inline constexpr size_t kMaxEsploraAddressBodyBytes = 64 * 1024;

// "/address/<address>" for appending to the endpoint URL. The address is
// parsed with common/chain/bitcoin_address.h and must belong to `network`;
// the path holds its normal form (bech32 lowercase), which is safe in a
// URL path as is (Base58 and bech32 characters are all unreserved).
// INVALID_ARGUMENT for a malformed address or one of another network.
[[nodiscard]] absl::StatusOr<std::string> EsploraAddressPath(absl::string_view address,
                                                             chain::BitcoinNetwork network);

// Sums of one address, in satoshis, as decimal strings ("0" when empty).
struct EsploraAddressBalance {
  // chain_stats.funded_txo_sum - chain_stats.spent_txo_sum.
  std::string confirmed;
  // mempool_stats.funded_txo_sum: unconfirmed outputs paying the address.
  std::string unconfirmed_incoming;
  // mempool_stats.spent_txo_sum: unconfirmed spends of its outputs (may
  // exceed unconfirmed_incoming: they can spend confirmed outputs).
  std::string unconfirmed_outgoing;
};

// Reads the body of GET /address/<address>:
//   {"address": "bc1q...",
//    "chain_stats": {"funded_txo_sum": 150000000, "spent_txo_sum": 0, ...},
//    "mempool_stats": {"funded_txo_sum": 0, "spent_txo_sum": 0, ...}}
// Both stats objects and both sums in each are required and must be JSON
// integers from 0 to 2^64-1 (not strings, fractions or exponents), and
// chain_stats.spent_txo_sum at most chain_stats.funded_txo_sum; other
// fields are ignored. When the body names an address and
// `expected_address` is not empty, they must match (bech32 compared without
// case), so an upstream answering for another address is caught. DATA_LOSS
// naming the field for anything else.
[[nodiscard]] absl::StatusOr<EsploraAddressBalance> ParseEsploraAddress(
    absl::string_view body, absl::string_view expected_address = "");

// Reads the body of GET /blocks/tip/height: a decimal height as plain
// text ("830000"), surrounding whitespace allowed. DATA_LOSS otherwise.
[[nodiscard]] absl::StatusOr<uint64_t> ParseEsploraTipHeight(absl::string_view body);

// Reads the body of GET /blocks/tip/hash: 64 hex digits as plain text,
// surrounding whitespace allowed. Returned in lowercase, without "0x" (how
// BlockRef.hash spells Bitcoin hashes). DATA_LOSS otherwise.
[[nodiscard]] absl::StatusOr<std::string> ParseEsploraTipHash(absl::string_view body);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_ESPLORA_H_
