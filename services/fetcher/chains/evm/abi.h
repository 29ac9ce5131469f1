// The Solidity ABI for the few calls the fetcher makes: ERC-20 balanceOf
// and decimals, Multicall3's aggregate3, and the deployless BalanceScanner
// (tools/contracts/BalanceScanner.sol). Call data is built as "0x..." hex
// for eth_call; results are decoded from the "0x..." an eth_call answers.
//
//   std::string data = EncodeBalanceOfCall("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045");
//   absl::StatusOr<std::string> units = DecodeUint256Result(result_hex);
//
// Results come from untrusted nodes and contracts: every offset and length
// is checked against the data before it is followed, counts are bounded by
// the data's size, and anything malformed is DATA_LOSS naming what is
// wrong. Nothing allocates more than the input's size.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_ABI_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_ABI_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::fetcher::evm {

// balanceOf(address): selector 0x70a08231 and the address (0x + 40 hex).
std::string EncodeBalanceOfCall(absl::string_view address);

// decimals(): selector 0x313ce567.
std::string EncodeDecimalsCall();

// One call of Multicall3.aggregate3.
struct Call3 {
  std::string target;  // 0x + 40 hex
  bool allow_failure = true;
  std::string call_data;  // 0x + hex
};

// aggregate3((address,bool,bytes)[]): selector 0x82ad56cb.
std::string EncodeAggregate3Call(const std::vector<Call3>& calls);

struct Call3Result {
  bool success = false;
  std::string return_data;  // 0x + hex
};

// aggregate3's (bool success, bytes returnData)[].
[[nodiscard]] absl::StatusOr<std::vector<Call3Result>> DecodeAggregate3Result(
    absl::string_view result);

// A uint256 return (at least one 32-byte word; a longer return is read by
// its first word, as Solidity callers do) to base-10 digits.
[[nodiscard]] absl::StatusOr<std::string> DecodeUint256Result(absl::string_view result);

// A uint8 decimals() return (one word, value at most 255).
[[nodiscard]] absl::StatusOr<uint32_t> DecodeDecimalsResult(absl::string_view result);

// The BalanceScanner's creation call: its creation code (hex, with or
// without 0x) followed by abi.encode(address token, address[] accounts).
// The zero address as token reads native balances.
std::string EncodeScannerCall(absl::string_view creation_code, absl::string_view token,
                              const std::vector<std::string>& accounts);

struct ScannedBalance {
  bool success = false;
  std::string units;  // base-10; "0" when !success
};

// The scanner's abi.encode((bool success, uint256 balance)[]).
[[nodiscard]] absl::StatusOr<std::vector<ScannedBalance>> DecodeScannerResult(
    absl::string_view result);

}  // namespace coffer::fetcher::evm

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_ABI_H_
