// The Solidity ABI for the few calls the fetcher makes: ERC-20 balanceOf
// and decimals, Multicall3's aggregate3, and the deployless BalanceScanner
// (tools/contracts/BalanceScanner.sol). Call data is built as "0x..." hex
// for eth_call; results are decoded from the "0x..." an eth_call answers.
//
//   std::string data = EncodeBalanceOfCall("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045");
//   absl::StatusOr<std::string> units = DecodeUint256Result(result_hex);
//
//   std::vector<Call3> calls = {{.target = token, .call_data = data}, ...};
//   std::string aggregate = EncodeAggregate3Call(calls);  // eth_call to Multicall3
//   absl::StatusOr<std::vector<Call3Result>> each = DecodeAggregate3Result(answer);
//
// Encoders take addresses already validated (coffer's CAIP parsing checks
// them with common/chain/evm_address.h; the EvmAddress overload takes the
// parsed bytes). A string that is not "0x" + 40 hex digits, or call data
// that is not "0x" + whole bytes, makes an encoder return "" - call data
// every node refuses - so a bug upstream becomes an item error, never the
// balance of some other account.
//
// Results come from untrusted nodes and contracts: every offset and length
// is checked against the data before it is followed, counts are bounded by
// the data's size and by kMaxAbiArrayLength, and anything malformed is
// DATA_LOSS naming what is wrong. What a decoder returns is never larger
// than twice its input (hex text), whatever offsets the data points at.
// Decoders accept "0x" or "0X" and hex digits of either case; bytes past
// what the layout needs are ignored (Solidity callers do the same).
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_ABI_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_ABI_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "common/chain/evm_address.h"

namespace coffer::fetcher::evm {

// The most elements any decoded array may have. Far above what one eth_call
// can return under node result caps (Erigon: 100 kB, i.e. about 3,000
// words), so only hostile data meets it.
inline constexpr size_t kMaxAbiArrayLength = 65536;

// balanceOf(address): selector 0x70a08231 and the address word.
std::string EncodeBalanceOfCall(absl::string_view address);
std::string EncodeBalanceOfCall(const chain::EvmAddress& address);

// decimals(): selector 0x313ce567.
std::string EncodeDecimalsCall();

// One call of Multicall3.aggregate3.
struct Call3 {
  std::string target;  // 0x + 40 hex
  bool allow_failure = true;
  std::string call_data;  // 0x + hex
};

// aggregate3((address target, bool allowFailure, bytes callData)[]):
// selector 0x82ad56cb and abi.encode of the array, exactly as solc and
// `cast calldata` encode it.
std::string EncodeAggregate3Call(const std::vector<Call3>& calls);

struct Call3Result {
  bool success = false;
  std::string return_data;  // 0x + hex; "0x" when the call returned nothing
};

// aggregate3's (bool success, bytes returnData)[], one per call in call
// order. A `success` word other than 0 or 1 is DATA_LOSS.
[[nodiscard]] absl::StatusOr<std::vector<Call3Result>> DecodeAggregate3Result(
    absl::string_view result);

// A uint256 return to base-10 digits. At least one 32-byte word; a longer
// return is read by its first word, as Solidity callers do (some tokens
// return extra bytes). A shorter one (no code at the address: "0x") is
// DATA_LOSS: an error, never a zero balance.
[[nodiscard]] absl::StatusOr<std::string> DecodeUint256Result(absl::string_view result);

// A uint8 decimals() return: the first word, at most 255 (a token declaring
// uint256 decimals above that is DATA_LOSS).
[[nodiscard]] absl::StatusOr<uint32_t> DecodeDecimalsResult(absl::string_view result);

// abi.encode(uint256[]): word 0 the array's offset (0x20 as Solidity
// writes it; any in-range offset is followed), at that offset the count n,
// then n words. Values as base-10 digits.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> DecodeUint256Array(absl::string_view result);

// The BalanceScanner's creation call: its creation code (hex, with or
// without 0x) followed by abi.encode(address token, address[] accounts).
// The zero address as token reads native balances.
std::string EncodeScannerCall(absl::string_view creation_code, absl::string_view token,
                              const std::vector<std::string>& accounts);

struct ScannedBalance {
  bool success = false;
  std::string units;  // base-10, as sent (the scanner sends 0 when !success)
};

// abi.encode((bool success, uint256 balance)[]), the scanner's answer
// (layout in tools/contracts/BalanceScanner.sol): word 0 the offset, then
// the count n, then n pairs of words.
[[nodiscard]] absl::StatusOr<std::vector<ScannedBalance>> DecodeScannerResult(
    absl::string_view result);

}  // namespace coffer::fetcher::evm

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_ABI_H_
