#include "services/fetcher/chains/evm/abi.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

#include "services/fetcher/chains/evm/hex_quantity.h"

namespace coffer::fetcher::evm {
namespace {

constexpr size_t kWord = 32;

absl::string_view StripHexPrefix(absl::string_view hex) {
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex.remove_prefix(2);
  return hex;
}

bool IsHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// 0-15, or -1 for anything but a hex digit of either case.
int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whole bytes of hex, "0x" optional: the digits, or nullopt.
std::optional<absl::string_view> HexBytes(absl::string_view hex) {
  hex = StripHexPrefix(hex);
  if (hex.size() % 2 != 0 || !IsHex(hex)) return std::nullopt;
  return hex;
}

// A 32-byte word, as 64 hex digits, of a value up to 64 bits.
std::string UintWord(uint64_t value) {
  std::string digits = absl::StrCat(absl::Hex(value));
  return std::string(64 - digits.size(), '0') + digits;
}

// "0x" + 40 hex digits, of either case.
bool IsAddress(absl::string_view address) {
  return address.size() == 42 && address[0] == '0' && (address[1] == 'x' || address[1] == 'X') &&
         IsHex(address.substr(2));
}

// Appends the word of `address`, which IsAddress: 24 zeros and its 40
// digits in lowercase.
void AppendAddressWord(absl::string_view address, std::string* out) {
  out->append(24, '0');
  for (const char c : address.substr(2)) {
    out->push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
}

// "0x" + 40 hex digits left-padded to a word, lowercase; nullopt for
// anything else.
std::optional<std::string> AddressWord(absl::string_view address) {
  if (!IsAddress(address)) return std::nullopt;
  std::string word;
  AppendAddressWord(address, &word);
  return word;
}

std::string AddressWord(const chain::EvmAddress& address) {
  return absl::StrCat(std::string(24, '0'),
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(address.data()), address.size())));
}

// Appends UintWord(value) without a temporary.
void AppendUintWord(uint64_t value, std::string* out) {
  out->append(64 - 16, '0');
  absl::StrAppend(out, absl::Hex(value, absl::kZeroPad16));
}

// The length of `hex_size` digits right-padded to whole words.
size_t PaddedSize(size_t hex_size) {
  const size_t rest = hex_size % (2 * kWord);
  return rest == 0 ? hex_size : hex_size + 2 * kWord - rest;
}

// The bytes of an eth_call result ("0x..." with an even number of digits).
absl::StatusOr<std::string> ResultBytes(absl::string_view result) {
  if (result.size() < 2 || result[0] != '0' || (result[1] != 'x' && result[1] != 'X')) {
    return absl::DataLossError("call result: not \"0x\" followed by hex digits");
  }
  absl::string_view hex = result.substr(2);
  if (hex.size() % 2 != 0) return absl::DataLossError("call result: odd number of hex digits");
  // Checked and converted in one pass: aggregate answers run to 100s of kB.
  std::string bytes(hex.size() / 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int high = HexDigitValue(hex[2 * i]);
    const int low = HexDigitValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return absl::DataLossError("call result: not a hex digit");
    bytes[i] = static_cast<char>((high << 4) | low);
  }
  return bytes;
}

// Reads the word at byte `offset` of `data` as an offset or count: it must
// fit in the data, so no bound derived from it can exceed the input.
absl::StatusOr<size_t> ReadSize(const std::string& data, size_t offset, absl::string_view what) {
  if (offset > data.size() || data.size() - offset < kWord) {
    return absl::DataLossError(absl::StrCat(what, ": past the end of the data"));
  }
  for (size_t i = offset; i < offset + kWord - 8; ++i) {
    if (data[i] != 0) return absl::DataLossError(absl::StrCat(what, ": out of range"));
  }
  uint64_t value = 0;
  for (size_t i = offset + kWord - 8; i < offset + kWord; ++i) {
    value = (value << 8) | static_cast<unsigned char>(data[i]);
  }
  if (value > data.size()) return absl::DataLossError(absl::StrCat(what, ": out of range"));
  return static_cast<size_t>(value);
}

absl::StatusOr<bool> ReadBool(const std::string& data, size_t offset, absl::string_view what) {
  absl::StatusOr<size_t> value = ReadSize(data, offset, what);
  if (!value.ok()) return value.status();
  if (*value > 1) return absl::DataLossError(absl::StrCat(what, ": not a bool"));
  return *value == 1;
}

// The word at `offset`, which the caller has checked lies inside `data`.
std::string WordDecimal(const std::string& data, size_t offset) {
  // Hex of the significant bytes only: balances are mostly far below 2^256,
  // and the conversion's cost grows with the digits it is given.
  size_t first = offset;
  while (first + 1 < offset + kWord && data[first] == 0) ++first;
  absl::StatusOr<std::string> decimal = HexDigitsToDecimal(
      absl::BytesToHexString(absl::string_view(data).substr(first, offset + kWord - first)));
  // At most 64 hex digits always convert.
  return decimal.ok() ? *decimal : "0";
}

// "0x" + lowercase hex of `bytes`, in one allocation.
std::string PrefixedHex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 + 2 * bytes.size(), '0');
  hex[1] = 'x';
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    hex[2 + 2 * i] = kDigits[byte >> 4];
    hex[3 + 2 * i] = kDigits[byte & 0xf];
  }
  return hex;
}

// A dynamic array's head, as in abi.encode(T[]) for a T of `element_words`
// words (0 for dynamic T: then each element is one offset word): where its
// elements start and how many there are, every element's head checked to
// lie inside `data`.
struct ArrayHead {
  size_t base = 0;
  size_t count = 0;
};

absl::StatusOr<ArrayHead> ReadArrayHead(const std::string& data, size_t element_words,
                                        absl::string_view what) {
  absl::StatusOr<size_t> array = ReadSize(data, 0, absl::StrCat(what, " offset"));
  if (!array.ok()) return array.status();
  absl::StatusOr<size_t> count = ReadSize(data, *array, absl::StrCat(what, " count"));
  if (!count.ok()) return count.status();
  const size_t base = *array + kWord;
  const size_t stride = kWord * (element_words == 0 ? 1 : element_words);
  if (*count > (data.size() - base) / stride) {
    return absl::DataLossError(
        absl::StrCat(what, " count: ", *count, " elements, more than the data holds"));
  }
  if (*count > kMaxAbiArrayLength) {
    return absl::DataLossError(
        absl::StrCat(what, " count: ", *count, " elements, more than ", kMaxAbiArrayLength));
  }
  return ArrayHead{.base = base, .count = *count};
}

}  // namespace

std::string EncodeBalanceOfCall(absl::string_view address) {
  if (!IsAddress(address)) return "";
  // One allocation: built once per balance.
  std::string call;
  call.reserve(10 + 2 * kWord);
  call += "0x70a08231";
  AppendAddressWord(address, &call);
  return call;
}

std::string EncodeBalanceOfCall(const chain::EvmAddress& address) {
  return absl::StrCat("0x70a08231", AddressWord(address));
}

std::string EncodeDecimalsCall() { return "0x313ce567"; }

std::string EncodeAggregate3Call(const std::vector<Call3>& calls) {
  // abi.encode(Call3[]): the array's offset, its length, one offset per
  // element (from the start of the offsets), then the elements, each
  // (target, allowFailure, offset of callData = 0x60, callData). Written
  // into one buffer: hundreds of calls per aggregate, one per balance.
  std::vector<absl::string_view> data;
  data.reserve(calls.size());
  size_t tails = 0;
  for (const Call3& call : calls) {
    const std::optional<absl::string_view> bytes = HexBytes(call.call_data);
    if (!IsAddress(call.target) || !bytes.has_value()) return "";
    data.push_back(*bytes);
    tails += 4 * 2 * kWord + PaddedSize(bytes->size());
  }
  std::string encoded;
  encoded.reserve(10 + 2 * 2 * kWord + calls.size() * 2 * kWord + tails);
  encoded += "0x82ad56cb";
  AppendUintWord(kWord, &encoded);
  AppendUintWord(calls.size(), &encoded);
  size_t next = calls.size() * kWord;
  for (const absl::string_view bytes : data) {
    AppendUintWord(next, &encoded);
    next += (4 * 2 * kWord + PaddedSize(bytes.size())) / 2;
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    AppendAddressWord(calls[i].target, &encoded);
    AppendUintWord(calls[i].allow_failure ? 1 : 0, &encoded);
    AppendUintWord(3 * kWord, &encoded);
    AppendUintWord(data[i].size() / 2, &encoded);
    encoded.append(data[i].data(), data[i].size());
    encoded.append(PaddedSize(data[i].size()) - data[i].size(), '0');
  }
  return encoded;
}

absl::StatusOr<std::vector<Call3Result>> DecodeAggregate3Result(absl::string_view result) {
  absl::StatusOr<std::string> data = ResultBytes(result);
  if (!data.ok()) return data.status();
  absl::StatusOr<ArrayHead> head = ReadArrayHead(*data, 0, "aggregate3 result");
  if (!head.ok()) return head.status();
  std::vector<Call3Result> results;
  results.reserve(head->count);
  // Offsets may point many elements at the same bytes; what is copied out
  // stays within the input's size so such data cannot multiply it.
  size_t budget = data->size();
  for (size_t i = 0; i < head->count; ++i) {
    absl::StatusOr<size_t> element =
        ReadSize(*data, head->base + i * kWord, "aggregate3 result offset");
    if (!element.ok()) return element.status();
    const size_t start = head->base + *element;
    absl::StatusOr<bool> success = ReadBool(*data, start, "aggregate3 result success");
    if (!success.ok()) return success.status();
    absl::StatusOr<size_t> bytes = ReadSize(*data, start + kWord, "aggregate3 returnData offset");
    if (!bytes.ok()) return bytes.status();
    const size_t bytes_start = start + *bytes;
    absl::StatusOr<size_t> length = ReadSize(*data, bytes_start, "aggregate3 returnData length");
    if (!length.ok()) return length.status();
    if (*length > data->size() - bytes_start - kWord) {
      return absl::DataLossError("aggregate3 returnData: past the end of the data");
    }
    if (*length > budget) {
      return absl::DataLossError("aggregate3 returnData: elements overlap beyond the data");
    }
    budget -= *length;
    results.push_back({.success = *success,
                       .return_data = PrefixedHex(
                           absl::string_view(*data).substr(bytes_start + kWord, *length))});
  }
  return results;
}

absl::StatusOr<std::string> DecodeUint256Result(absl::string_view result) {
  if (result.size() < 2 || result[0] != '0' || (result[1] != 'x' && result[1] != 'X')) {
    return absl::DataLossError("call result: not \"0x\" followed by hex digits");
  }
  const absl::string_view hex = result.substr(2);
  if (hex.size() % 2 != 0) return absl::DataLossError("call result: odd number of hex digits");
  if (!IsHex(hex)) return absl::DataLossError("call result: not a hex digit");
  if (hex.size() < 2 * kWord) {
    return absl::DataLossError(
        absl::StrCat("uint256 result: ", hex.size() / 2, " bytes, fewer than a 32-byte word"));
  }
  // The first word's digits, converted as they are: no round trip through
  // bytes.
  return HexDigitsToDecimal(hex.substr(0, 2 * kWord));
}

absl::StatusOr<uint32_t> DecodeDecimalsResult(absl::string_view result) {
  absl::StatusOr<std::string> data = ResultBytes(result);
  if (!data.ok()) return data.status();
  if (data->size() < kWord) return absl::DataLossError("decimals result: shorter than a word");
  for (size_t i = 0; i + 1 < kWord; ++i) {
    if ((*data)[i] != 0) return absl::DataLossError("decimals result: above 255");
  }
  return static_cast<uint32_t>(static_cast<unsigned char>((*data)[kWord - 1]));
}

absl::StatusOr<std::vector<std::string>> DecodeUint256Array(absl::string_view result) {
  absl::StatusOr<std::string> data = ResultBytes(result);
  if (!data.ok()) return data.status();
  absl::StatusOr<ArrayHead> head = ReadArrayHead(*data, 1, "uint256[] result");
  if (!head.ok()) return head.status();
  std::vector<std::string> values;
  values.reserve(head->count);
  for (size_t i = 0; i < head->count; ++i) {
    values.push_back(WordDecimal(*data, head->base + i * kWord));
  }
  return values;
}

std::string EncodeScannerCall(absl::string_view creation_code, absl::string_view token,
                              const std::vector<std::string>& accounts) {
  const std::optional<absl::string_view> code = HexBytes(creation_code);
  const std::optional<std::string> token_word = AddressWord(token);
  if (!code.has_value() || !token_word.has_value()) return "";
  std::string call =
      absl::StrCat("0x", *code, *token_word, UintWord(2 * kWord), UintWord(accounts.size()));
  call.reserve(call.size() + accounts.size() * 2 * kWord);
  for (const std::string& account : accounts) {
    if (!IsAddress(account)) return "";
    AppendAddressWord(account, &call);
  }
  return call;
}

absl::StatusOr<std::vector<ScannedBalance>> DecodeScannerResult(absl::string_view result) {
  absl::StatusOr<std::string> data = ResultBytes(result);
  if (!data.ok()) return data.status();
  absl::StatusOr<ArrayHead> head = ReadArrayHead(*data, 2, "scanner result");
  if (!head.ok()) return head.status();
  std::vector<ScannedBalance> balances;
  balances.reserve(head->count);
  for (size_t i = 0; i < head->count; ++i) {
    const size_t at = head->base + 2 * kWord * i;
    absl::StatusOr<bool> success = ReadBool(*data, at, "scanner result success");
    if (!success.ok()) return success.status();
    balances.push_back({.success = *success, .units = WordDecimal(*data, at + kWord)});
  }
  return balances;
}

}  // namespace coffer::fetcher::evm
