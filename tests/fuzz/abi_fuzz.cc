// Fuzz target for the ABI decoders and hex quantities (what every eth_call
// and eth_getBalance answer goes through): never a crash or an allocation
// beyond the input; what decodes is consistent with the input's size, and
// decimal results are digits only within uint256.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#include "services/fetcher/chains/evm/abi.h"
#include "services/fetcher/chains/evm/hex_quantity.h"

namespace {

void CheckDecimal(const std::string& digits) {
  if (digits.empty() || digits.size() > 78) std::abort();
  for (char c : digits) {
    if (c < '0' || c > '9') std::abort();
  }
}

std::string Word(uint64_t value) {
  std::string digits = absl::StrCat(absl::Hex(value));
  return std::string(64 - digits.size(), '0') + digits;
}

}  // namespace

// Valid encodings to start from: an aggregate3 answer of two results and a
// scanner answer of two balances.
extern "C" const char* const* CofferFuzzSeeds(size_t* count) {
  static const std::string kAggregate =
      absl::StrCat("0x", Word(0x20), Word(2), Word(0x40), Word(0xc0), Word(1), Word(0x40),
                   Word(0x20), Word(7), Word(0), Word(0x40), Word(0));
  static const std::string kScanner =
      absl::StrCat("0x", Word(0x20), Word(2), Word(1), Word(12345), Word(0), Word(0));
  static const char* const kSeeds[] = {kAggregate.c_str(), kScanner.c_str(), "0x2a"};
  *count = 3;
  return kSeeds;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace evm = coffer::fetcher::evm;
  const absl::string_view raw(reinterpret_cast<const char*>(data), size);
  // As a result: text starting "0x" as is (so mutations of the seeds'
  // hex stay near valid encodings), other bytes hex-encoded.
  const std::string result = absl::StartsWith(raw, "0x")
                                 ? std::string(raw)
                                 : absl::StrCat("0x", absl::BytesToHexString(raw));
  if (auto decoded = evm::DecodeAggregate3Result(result); decoded.ok()) {
    if (decoded->size() > result.size() / 64) std::abort();
    for (const evm::Call3Result& one : *decoded) {
      if (one.return_data.size() > result.size()) std::abort();
    }
  }
  if (auto scanned = evm::DecodeScannerResult(result); scanned.ok()) {
    if (scanned->size() > result.size() / 128) std::abort();
    for (const evm::ScannedBalance& one : *scanned) CheckDecimal(one.units);
  }
  if (auto units = evm::DecodeUint256Result(result); units.ok()) CheckDecimal(*units);
  if (auto decimals = evm::DecodeDecimalsResult(result); decimals.ok() && *decimals > 255) {
    std::abort();
  }
  // As text: a quantity as a node spells it (or misspells it).
  if (auto decimal = evm::HexQuantityToDecimal(raw); decimal.ok()) CheckDecimal(*decimal);
  if (auto number = evm::ParseUint64Quantity(raw); number.ok()) {
    if (*evm::ParseUint64Quantity(evm::ToHexQuantity(*number)) != *number) std::abort();
  }
  return 0;
}
