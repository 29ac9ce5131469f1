// JSON from upstreams, parsed so that numbers keep their exact text.
//
// Prices and amounts must not pass through a double, so bodies are parsed
// with RapidJSON's kParseNumbersAsStringsFlag. That flag alone makes a
// number indistinguishable from a string ("usd": 3012.45 and "usd":
// "3012.45" would both be the string "3012.45"), so ExactJson also records
// which values were numbers, and callers can reject the wrong type.
//
// Upstream bodies are untrusted: parsing is iterative (no recursion a deep
// body could overflow), nesting is capped, encoding is validated, size is
// capped, and every failure is a DATA_LOSS status, never a crash or an
// exception. One limit comes from RapidJSON itself: a number beyond a
// double's range (1e400) fails the whole body even though only its text is
// kept; integers of any length (uint256) are fine.
//
//   ASSIGN_OR_RETURN(ExactJson json, ExactJson::Parse(body));
//   const rapidjson::Value& root = json.root();
//   auto it = root.FindMember("usd");
//   if (it != root.MemberEnd() && json.IsNumber(it->value)) {
//     ASSIGN_OR_RETURN(chain::DecimalAmount price, DecimalFromJsonNumber(it->value.GetString()));
//   }
//
// (Used by the Esplora and price codecs; it belongs in a shared
// services/fetcher/json/ directory once one exists.)
#ifndef COFFER_SERVICES_FETCHER_PRICES_EXACT_JSON_H_
#define COFFER_SERVICES_FETCHER_PRICES_EXACT_JSON_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

#include "common/chain/amount.h"

namespace coffer::fetcher {

// Deeper bodies are refused; no response coffer reads nests beyond 4.
inline constexpr int kMaxJsonDepth = 64;
// The default size cap of ExactJson::Parse.
inline constexpr size_t kDefaultMaxJsonBytes = size_t{16} << 20;

class ExactJson {
 public:
  // Parses one JSON value (surrounding whitespace allowed, nothing else).
  // DATA_LOSS "malformed JSON at offset N: <reason>" for bad syntax or
  // encoding, a NUL byte, nesting deeper than kMaxJsonDepth, or more than
  // `max_bytes` bytes.
  [[nodiscard]] static absl::StatusOr<ExactJson> Parse(absl::string_view body,
                                                       size_t max_bytes = kDefaultMaxJsonBytes);

  const rapidjson::Value& root() const { return *document_; }

  // `value` (a value of this document) was a JSON number; its exact text
  // is value.GetString().
  bool IsNumber(const rapidjson::Value& value) const {
    return value.IsString() && numbers_.contains(&value);
  }
  // `value` was a JSON string.
  bool IsString(const rapidjson::Value& value) const {
    return value.IsString() && !numbers_.contains(&value);
  }

 private:
  ExactJson() = default;

  // Behind a pointer: values must keep their addresses when ExactJson moves.
  std::unique_ptr<rapidjson::Document> document_;
  absl::flat_hash_set<const rapidjson::Value*> numbers_;
};

// The exact value of JSON number text (as IsNumber values hold) as units
// and decimals, with trailing fractional zeros dropped: "3012.45" ->
// {"301245", 2}, "1.2e-7" -> {"12", 8}, "1E+3" -> {"1000", 0}, "-0" and
// "0.00" -> {"0", 0}. DATA_LOSS when negative (other than zero), when it
// would need more than chain::kMaxDecimals decimals or more than
// chain::kMaxDerivedDigits digits, or when the text is not a JSON number.
[[nodiscard]] absl::StatusOr<chain::DecimalAmount> DecimalFromJsonNumber(absl::string_view text);

// JSON number text that is a plain non-negative integer ("0", "123") up to
// 2^64-1. DATA_LOSS for a sign, a fraction or exponent, or overflow.
[[nodiscard]] absl::StatusOr<uint64_t> Uint64FromJsonNumber(absl::string_view text);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_PRICES_EXACT_JSON_H_
