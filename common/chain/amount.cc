#include "common/chain/amount.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace coffer::chain {
namespace {

absl::Status ValidateArithmetic(absl::string_view units, uint32_t decimals) {
  if (absl::Status status = ValidateUnits(units, kMaxArithmeticDigits); !status.ok()) {
    return status;
  }
  return ValidateDecimals(decimals);
}

// Digit-string sum; both valid and without leading zeros.
std::string AddDigits(absl::string_view a, absl::string_view b) {
  if (a.size() < b.size()) std::swap(a, b);
  std::string sum(a.size() + 1, '0');
  int carry = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int digit = (a[a.size() - 1 - i] - '0') + carry;
    if (i < b.size()) digit += b[b.size() - 1 - i] - '0';
    sum[sum.size() - 1 - i] = static_cast<char>('0' + digit % 10);
    carry = digit / 10;
  }
  if (carry > 0) {
    sum[0] = '1';
  } else {
    sum.erase(0, 1);
  }
  return sum;
}

}  // namespace

absl::Status ValidateUnits(absl::string_view units, size_t max_digits) {
  if (units.empty()) return absl::InvalidArgumentError("units is empty");
  for (char c : units) {
    if (c < '0' || c > '9') return absl::InvalidArgumentError("units must be digits only");
  }
  if (units.size() > 1 && units[0] == '0') {
    return absl::InvalidArgumentError("units has a leading zero");
  }
  if (units.size() > max_digits) {
    return absl::InvalidArgumentError(absl::StrCat("units has more than ", max_digits, " digits"));
  }
  return absl::OkStatus();
}

absl::Status ValidateBalanceUnits(absl::string_view units) {
  if (absl::Status status = ValidateUnits(units, kMaxBalanceDigits); !status.ok()) return status;
  // Same length and no leading zeros: string order is numeric order.
  if (units.size() == kMaxUint256.size() && units > kMaxUint256) {
    return absl::InvalidArgumentError("units exceeds 2^256-1");
  }
  return absl::OkStatus();
}

absl::Status ValidateDecimals(uint32_t decimals) {
  if (decimals > kMaxDecimals) {
    return absl::InvalidArgumentError(
        absl::StrCat("decimals ", decimals, " exceeds ", kMaxDecimals));
  }
  return absl::OkStatus();
}

absl::Status ValidateBalance(absl::string_view units, uint32_t decimals) {
  if (absl::Status status = ValidateBalanceUnits(units); !status.ok()) return status;
  return ValidateDecimals(decimals);
}

absl::StatusOr<std::string> FormatUnits(absl::string_view units, uint32_t decimals) {
  if (absl::Status status = ValidateArithmetic(units, decimals); !status.ok()) return status;
  std::string padded(units);
  if (padded.size() <= decimals) padded.insert(0, decimals + 1 - padded.size(), '0');
  std::string whole = padded.substr(0, padded.size() - decimals);
  std::string fraction = padded.substr(padded.size() - decimals);
  fraction.erase(fraction.find_last_not_of('0') + 1);  // npos + 1 == 0
  if (fraction.empty()) return whole;
  return absl::StrCat(whole, ".", fraction);
}

absl::StatusOr<std::string> AddUnits(absl::string_view a, absl::string_view b) {
  if (absl::Status status = ValidateUnits(a, kMaxArithmeticDigits); !status.ok()) return status;
  if (absl::Status status = ValidateUnits(b, kMaxArithmeticDigits); !status.ok()) return status;
  return AddDigits(a, b);
}

absl::StatusOr<DecimalAmount> AddAmounts(const DecimalAmount& a, const DecimalAmount& b) {
  if (absl::Status status = ValidateArithmetic(a.units, a.decimals); !status.ok()) return status;
  if (absl::Status status = ValidateArithmetic(b.units, b.decimals); !status.ok()) return status;
  DecimalAmount sum;
  sum.decimals = std::max(a.decimals, b.decimals);
  // Scale each to the common decimals; zero stays "0" (no leading zeros).
  auto scaled = [&](const DecimalAmount& x) {
    std::string units = x.units;
    if (units != "0") units.append(sum.decimals - x.decimals, '0');
    return units;
  };
  sum.units = AddDigits(scaled(a), scaled(b));
  return sum;
}

}  // namespace coffer::chain
