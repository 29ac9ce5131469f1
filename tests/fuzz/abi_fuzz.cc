// Fuzz target for the ABI decoders (what every eth_call answer goes
// through): never a crash or an allocation beyond the input's size; what
// decodes re-encodes, in the canonical layout, to data that decodes to the
// same values; decimal results are canonical digits within uint256.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#include "services/fetcher/chains/evm/abi.h"
#include "services/fetcher/chains/evm/hex_quantity.h"

namespace {

namespace evm = coffer::fetcher::evm;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckDecimal(const std::string& digits) {
  Check(!digits.empty() && digits.size() <= 78);
  Check(digits.size() == 1 || digits[0] != '0');
  for (char c : digits) Check(c >= '0' && c <= '9');
}

std::string Word(uint64_t value) {
  std::string digits = absl::StrCat(absl::Hex(value));
  return std::string(64 - digits.size(), '0') + digits;
}

// A base-10 uint256 as one word.
std::string DecimalWord(const std::string& decimal) {
  absl::StatusOr<std::string> hex = evm::DecimalToHexQuantity(decimal);
  Check(hex.ok());
  const std::string digits = hex->substr(2);
  return std::string(64 - digits.size(), '0') + digits;
}

// abi.encode((bool, bytes)[]) exactly as Solidity lays it out.
std::string EncodeCall3Results(const std::vector<evm::Call3Result>& results) {
  std::string heads;
  std::string tails;
  size_t next = results.size() * 32;
  for (const evm::Call3Result& result : results) {
    const std::string bytes = result.return_data.substr(2);
    std::string padded = bytes;
    if (padded.size() % 64 != 0) padded.append(64 - padded.size() % 64, '0');
    const std::string element =
        absl::StrCat(Word(result.success ? 1 : 0), Word(0x40), Word(bytes.size() / 2), padded);
    heads += Word(next);
    next += element.size() / 2;
    tails += element;
  }
  return absl::StrCat("0x", Word(0x20), Word(results.size()), heads, tails);
}

std::string EncodeUint256Array(const std::vector<std::string>& values) {
  std::string encoded = absl::StrCat("0x", Word(0x20), Word(values.size()));
  for (const std::string& value : values) encoded += DecimalWord(value);
  return encoded;
}

std::string EncodeScanned(const std::vector<evm::ScannedBalance>& balances) {
  std::string encoded = absl::StrCat("0x", Word(0x20), Word(balances.size()));
  for (const evm::ScannedBalance& one : balances) {
    encoded += Word(one.success ? 1 : 0) + DecimalWord(one.units);
  }
  return encoded;
}

bool SameResults(const std::vector<evm::Call3Result>& a, const std::vector<evm::Call3Result>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].success != b[i].success || a[i].return_data != b[i].return_data) return false;
  }
  return true;
}

bool SameBalances(const std::vector<evm::ScannedBalance>& a,
                  const std::vector<evm::ScannedBalance>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].success != b[i].success || a[i].units != b[i].units) return false;
  }
  return true;
}

}  // namespace

// Valid encodings to start from: aggregate3 answers, a scanner answer, a
// uint256[] and single words.
extern "C" const char* const* CofferFuzzSeeds(size_t* count) {
  static const std::string kAggregate =
      absl::StrCat("0x", Word(0x20), Word(2), Word(0x40), Word(0xc0), Word(1), Word(0x40),
                   Word(0x20), Word(7), Word(0), Word(0x40), Word(0));
  static const std::string kAggregateOdd =
      absl::StrCat("0x", Word(0x20), Word(1), Word(0x20), Word(1), Word(0x40), Word(3), "abcdef",
                   std::string(58, '0'));
  static const std::string kScanner =
      absl::StrCat("0x", Word(0x20), Word(2), Word(1), Word(12345), Word(0), Word(0));
  static const std::string kArray =
      absl::StrCat("0x", Word(0x20), Word(3), Word(0), Word(18), std::string(64, 'f'));
  static const std::string kWord = absl::StrCat("0x", Word(6));
  static const char* const kSeeds[] = {kAggregate.c_str(), kAggregateOdd.c_str(), kScanner.c_str(),
                                       kArray.c_str(),     kWord.c_str(),         "0x"};
  *count = std::size(kSeeds);
  return kSeeds;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view raw(reinterpret_cast<const char*>(data), size);
  // As a result: text starting "0x" as is (so mutations of the seeds' hex
  // stay near valid encodings), other bytes hex-encoded (so every layout of
  // bytes is reachable).
  const std::string result = absl::StartsWith(raw, "0x")
                                 ? std::string(raw)
                                 : absl::StrCat("0x", absl::BytesToHexString(raw));
  const size_t input_bytes = result.size() / 2;

  if (auto decoded = evm::DecodeAggregate3Result(result); decoded.ok()) {
    Check(decoded->size() <= input_bytes / 32);
    size_t returned = 0;
    for (const evm::Call3Result& one : *decoded) {
      Check(absl::StartsWith(one.return_data, "0x") && one.return_data.size() % 2 == 0);
      returned += one.return_data.size() / 2 - 1;
    }
    Check(returned <= input_bytes);
    auto again = evm::DecodeAggregate3Result(EncodeCall3Results(*decoded));
    Check(again.ok() && SameResults(*again, *decoded));
  } else {
    Check(decoded.status().code() == absl::StatusCode::kDataLoss);
  }

  if (auto values = evm::DecodeUint256Array(result); values.ok()) {
    Check(values->size() <= input_bytes / 32);
    for (const std::string& value : *values) CheckDecimal(value);
    auto again = evm::DecodeUint256Array(EncodeUint256Array(*values));
    Check(again.ok() && *again == *values);
  } else {
    Check(values.status().code() == absl::StatusCode::kDataLoss);
  }

  if (auto scanned = evm::DecodeScannerResult(result); scanned.ok()) {
    Check(scanned->size() <= input_bytes / 64);
    for (const evm::ScannedBalance& one : *scanned) CheckDecimal(one.units);
    auto again = evm::DecodeScannerResult(EncodeScanned(*scanned));
    Check(again.ok() && SameBalances(*again, *scanned));
  } else {
    Check(scanned.status().code() == absl::StatusCode::kDataLoss);
  }

  absl::StatusOr<std::string> units = evm::DecodeUint256Result(result);
  if (units.ok()) {
    CheckDecimal(*units);
    Check(*units == *evm::AbiWordToDecimal(result.substr(2, 64)));
  }
  if (auto decimals = evm::DecodeDecimalsResult(result); decimals.ok()) {
    Check(*decimals <= 255);
    Check(units.ok() && *units == std::to_string(*decimals));
  }
  return 0;
}
