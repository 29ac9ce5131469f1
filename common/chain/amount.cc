#include "common/chain/amount.h"

#include <algorithm>
#include <cmath>
#include <vector>

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

// The units of `x` scaled to `decimals` (at least x.decimals); zero stays
// "0" so no result has leading zeros.
std::string ScaledUnits(const DecimalAmount& x, uint32_t decimals) {
  std::string units = x.units;
  if (units != "0") units.append(decimals - x.decimals, '0');
  return units;
}

// Digit-string product; both valid and without leading zeros. Schoolbook
// on base-10^9 limbs, least significant first: a 1,024-digit operand is 114
// limbs, and a limb product plus a limb and a carry fits in uint64_t.
std::string MultiplyDigits(absl::string_view a, absl::string_view b) {
  if (a == "0" || b == "0") return "0";
  constexpr uint64_t kBase = 1000000000;
  constexpr size_t kLimbDigits = 9;
  auto limbs = [](absl::string_view digits) {
    std::vector<uint64_t> out;
    for (size_t end = digits.size(); end > 0;) {
      const size_t begin = end > kLimbDigits ? end - kLimbDigits : 0;
      uint64_t limb = 0;
      for (size_t i = begin; i < end; ++i)
        limb = limb * 10 + static_cast<uint64_t>(digits[i] - '0');
      out.push_back(limb);
      end = begin;
    }
    return out;
  };
  const std::vector<uint64_t> x = limbs(a);
  const std::vector<uint64_t> y = limbs(b);
  std::vector<uint64_t> product(x.size() + y.size(), 0);
  for (size_t i = 0; i < x.size(); ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < y.size(); ++j) {
      const uint64_t cell = product[i + j] + x[i] * y[j] + carry;
      product[i + j] = cell % kBase;
      carry = cell / kBase;
    }
    for (size_t k = i + y.size(); carry > 0; ++k) {
      const uint64_t cell = product[k] + carry;
      product[k] = cell % kBase;
      carry = cell / kBase;
    }
  }
  while (product.size() > 1 && product.back() == 0) product.pop_back();
  std::string digits = absl::StrCat(product.back());
  for (size_t i = product.size() - 1; i-- > 0;) {
    const std::string limb = absl::StrCat(product[i]);
    digits.append(kLimbDigits - limb.size(), '0');
    digits += limb;
  }
  return digits;
}

// Leading significant digits of a valid non-zero amount as a mantissa
// (exact in a double: at most 15 digits) and the power of ten it scales by.
struct Magnitude {
  double mantissa = 0;
  int64_t exponent = 0;
};

Magnitude MagnitudeOf(const DecimalAmount& x) {
  constexpr size_t kDigits = 15;
  const size_t taken = std::min(kDigits, x.units.size());
  double mantissa = 0;
  for (size_t i = 0; i < taken; ++i) mantissa = mantissa * 10 + (x.units[i] - '0');
  return {mantissa,
          static_cast<int64_t>(x.units.size() - taken) - static_cast<int64_t>(x.decimals)};
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

absl::StatusOr<DecimalAmount> MultiplyAmounts(const DecimalAmount& a, const DecimalAmount& b,
                                              uint32_t max_decimals) {
  if (absl::Status status = ValidateArithmetic(a.units, a.decimals); !status.ok()) return status;
  if (absl::Status status = ValidateArithmetic(b.units, b.decimals); !status.ok()) return status;
  if (absl::Status status = ValidateDecimals(max_decimals); !status.ok()) return status;
  std::string digits = MultiplyDigits(a.units, b.units);
  const uint32_t exact_decimals = a.decimals + b.decimals;
  DecimalAmount product;
  product.decimals = std::min(exact_decimals, max_decimals);
  const size_t dropped = exact_decimals - product.decimals;
  if (dropped >= digits.size()) {
    // Not `digits = "0"`: GCC 12 at -O2 misreports that as an overlapping
    // memcpy (-Werror=restrict, GCC bug 105329).
    digits.assign(1, '0');
  } else {
    digits.resize(digits.size() - dropped);
    // Truncation cannot leave leading zeros: the kept digits start with the
    // product's first, which is non-zero for a non-zero product.
  }
  if (digits.size() > kMaxArithmeticDigits) {
    return absl::OutOfRangeError(
        absl::StrCat("product has more than ", kMaxArithmeticDigits, " digits"));
  }
  product.units = std::move(digits);
  return product;
}

int CompareAmounts(const DecimalAmount& a, const DecimalAmount& b) {
  const uint32_t decimals = std::max(a.decimals, b.decimals);
  const std::string x = ScaledUnits(a, decimals);
  const std::string y = ScaledUnits(b, decimals);
  // Without leading zeros, the longer is the larger.
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  return x.compare(y) < 0 ? -1 : (x == y ? 0 : 1);
}

absl::StatusOr<double> AmountRatio(const DecimalAmount& numerator,
                                   const DecimalAmount& denominator) {
  if (absl::Status status = ValidateArithmetic(numerator.units, numerator.decimals); !status.ok()) {
    return status;
  }
  if (absl::Status status = ValidateArithmetic(denominator.units, denominator.decimals);
      !status.ok()) {
    return status;
  }
  if (numerator.units == "0" || denominator.units == "0") return 0.0;
  const int order = CompareAmounts(numerator, denominator);
  if (order == 0) return 1.0;
  const Magnitude n = MagnitudeOf(numerator);
  const Magnitude d = MagnitudeOf(denominator);
  const double ratio =
      n.mantissa / d.mantissa * std::pow(10.0, static_cast<double>(n.exponent - d.exponent));
  // Rounding of the mantissas and of pow may cross 1 for nearly equal
  // amounts; the exact order decides.
  return order < 0 ? std::min(ratio, 1.0) : std::max(ratio, 1.0);
}

}  // namespace coffer::chain
