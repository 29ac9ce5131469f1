// Exact amounts as common.proto's Amount carries them: a decimal string of
// base units and a number of decimals (units x 10^-decimals). Validation,
// display formatting and addition, all on strings: never floating point, so a
// uint256 balance keeps every digit.
//
//   RETURN_IF_ERROR(ValidateBalance(amount.units(), amount.decimals()));
//   FormatUnits("1234500", 6);   // "1.2345"
//   AddAmounts({"15", 1}, {"25", 2});  // {"175", 2}: 1.5 + 0.25 = 1.75
//   MultiplyAmounts({"15", 1}, {"25", 2}, 2);  // {"37", 2}: 1.5 x 0.25 = 0.375 -> 0.37
#ifndef COFFER_COMMON_CHAIN_AMOUNT_H_
#define COFFER_COMMON_CHAIN_AMOUNT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::chain {

// 2^256 - 1, the largest balance, and its number of digits.
inline constexpr absl::string_view kMaxUint256 =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";
inline constexpr size_t kMaxBalanceDigits = 78;

// Values derived by multiplication (balance x price) may have up to 160
// digits (common.proto).
inline constexpr size_t kMaxDerivedDigits = 160;

// ERC-20 decimals is a uint8, and common.proto allows 0 to 255.
inline constexpr uint32_t kMaxDecimals = 255;

// Longest units string the arithmetic below accepts: enough for any derived
// value scaled to kMaxDecimals, small enough that no input is costly.
inline constexpr size_t kMaxArithmeticDigits = 1024;

struct DecimalAmount {
  // ^(0|[1-9][0-9]*)$
  std::string units;
  uint32_t decimals = 0;
  friend bool operator==(const DecimalAmount&, const DecimalAmount&) = default;
};

// ^(0|[1-9][0-9]*)$ with at most `max_digits` digits. INVALID_ARGUMENT
// saying what is wrong ("units must be digits only", "units has a leading
// zero", "units is empty", "units has more than 160 digits").
[[nodiscard]] absl::Status ValidateUnits(absl::string_view units,
                                         size_t max_digits = kMaxDerivedDigits);

// ValidateUnits, and the value is at most 2^256 - 1 ("units exceeds
// 2^256-1").
[[nodiscard]] absl::Status ValidateBalanceUnits(absl::string_view units);

// 0 to kMaxDecimals.
[[nodiscard]] absl::Status ValidateDecimals(uint32_t decimals);

// ValidateBalanceUnits and ValidateDecimals: a balance as it may be stored.
[[nodiscard]] absl::Status ValidateBalance(absl::string_view units, uint32_t decimals);

// `units` x 10^-decimals for people, exactly: no trailing fractional zeros,
// no decimal point for whole numbers, a leading "0." below one.
// ("1234500", 6) -> "1.2345", ("5", 3) -> "0.005", ("1000", 3) -> "1".
// INVALID_ARGUMENT when `units` fails ValidateUnits(units,
// kMaxArithmeticDigits) or decimals exceeds kMaxDecimals.
[[nodiscard]] absl::StatusOr<std::string> FormatUnits(absl::string_view units, uint32_t decimals);

// a + b of two units strings (same decimals); any length up to
// kMaxArithmeticDigits each.
[[nodiscard]] absl::StatusOr<std::string> AddUnits(absl::string_view a, absl::string_view b);

// a + b exactly, at the larger of the two decimals (no digits dropped, none
// trimmed), as portfolio totals need. Validation as FormatUnits.
[[nodiscard]] absl::StatusOr<DecimalAmount> AddAmounts(const DecimalAmount& a,
                                                       const DecimalAmount& b);

// a x b exactly, then rounded toward zero to at most `max_decimals`
// decimals, as values in a quote currency need (balance x price). The result
// has min(a.decimals + b.decimals, max_decimals) decimals, so a product of
// amounts with one scale always has one scale; nothing is trimmed. Validation
// as FormatUnits, and max_decimals at most kMaxDecimals. OUT_OF_RANGE when
// the result would have more than kMaxArithmeticDigits digits; callers that
// answer a proto Amount check kMaxDerivedDigits themselves.
[[nodiscard]] absl::StatusOr<DecimalAmount> MultiplyAmounts(const DecimalAmount& a,
                                                            const DecimalAmount& b,
                                                            uint32_t max_decimals);

// Exact comparison of two amounts of any scales: negative, zero or positive
// as a < b, a == b, a > b. {"10", 1} == {"1", 0}. Both must be valid (pass
// ValidateUnits(units, kMaxArithmeticDigits) and ValidateDecimals), as
// amounts read back from storage or produced by the functions above are.
[[nodiscard]] int CompareAmounts(const DecimalAmount& a, const DecimalAmount& b);

// numerator / denominator as a double, for display only (a portfolio share):
// from the first 15 significant digits of each, so within about 1e-14 of the
// exact ratio whatever the lengths and decimals; infinity only for ratios
// past a double's range. 0 for a zero numerator or denominator; a numerator
// at most the denominator gives at most 1, equal ones exactly 1. Validation
// as FormatUnits.
[[nodiscard]] absl::StatusOr<double> AmountRatio(const DecimalAmount& numerator,
                                                 const DecimalAmount& denominator);

}  // namespace coffer::chain

#endif  // COFFER_COMMON_CHAIN_AMOUNT_H_
