#include "services/fetcher/chains/bitcoin/esplora.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "services/fetcher/prices/exact_json.h"

namespace coffer::fetcher {
namespace {

// Digits of the longest valid tip body; anything longer is not a height.
constexpr size_t kMaxTipBodyBytes = 256;

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::DataLossError(absl::StrCat("Esplora address response: ", field, ": ", problem));
}

struct Sums {
  uint64_t funded = 0;
  uint64_t spent = 0;
};

absl::StatusOr<uint64_t> ReadSum(const ExactJson& json, const rapidjson::Value& stats,
                                 absl::string_view stats_name, absl::string_view sum_name) {
  const std::string field = absl::StrCat(stats_name, ".", sum_name);
  const auto it = stats.FindMember(rapidjson::StringRef(sum_name.data(), sum_name.size()));
  if (it == stats.MemberEnd()) return FieldError(field, "is missing");
  if (!json.IsNumber(it->value)) return FieldError(field, "is not a number");
  absl::StatusOr<uint64_t> value =
      Uint64FromJsonNumber(absl::string_view(it->value.GetString(), it->value.GetStringLength()));
  if (!value.ok()) return FieldError(field, value.status().message());
  return *value;
}

absl::StatusOr<Sums> ReadStats(const ExactJson& json, absl::string_view name) {
  const rapidjson::Value& root = json.root();
  const auto it = root.FindMember(rapidjson::StringRef(name.data(), name.size()));
  if (it == root.MemberEnd()) return FieldError(name, "is missing");
  if (!it->value.IsObject()) return FieldError(name, "is not an object");
  Sums sums;
  absl::StatusOr<uint64_t> funded = ReadSum(json, it->value, name, "funded_txo_sum");
  if (!funded.ok()) return funded.status();
  absl::StatusOr<uint64_t> spent = ReadSum(json, it->value, name, "spent_txo_sum");
  if (!spent.ok()) return spent.status();
  sums.funded = *funded;
  sums.spent = *spent;
  return sums;
}

absl::Status CheckAddress(const ExactJson& json, absl::string_view expected) {
  const rapidjson::Value& root = json.root();
  const auto it = root.FindMember("address");
  if (expected.empty() || it == root.MemberEnd()) return absl::OkStatus();
  if (!json.IsString(it->value)) return FieldError("address", "is not a string");
  const absl::string_view got(it->value.GetString(), it->value.GetStringLength());
  // Compared in normal form: bech32 is case-insensitive, Base58 is not.
  absl::StatusOr<chain::BitcoinAddress> got_address = chain::ParseBitcoinAddress(got);
  absl::StatusOr<chain::BitcoinAddress> expected_address = chain::ParseBitcoinAddress(expected);
  const bool same = got_address.ok() && expected_address.ok()
                        ? got_address->normalized == expected_address->normalized
                        : got == expected;
  if (!same) return FieldError("address", "is not the address asked for");
  return absl::OkStatus();
}

// The body of a plain-text tip endpoint without surrounding whitespace.
absl::StatusOr<absl::string_view> TipText(absl::string_view body, absl::string_view what) {
  if (body.size() > kMaxTipBodyBytes) {
    return absl::DataLossError(absl::StrCat("Esplora ", what, ": body too long"));
  }
  absl::string_view text = absl::StripAsciiWhitespace(body);
  if (text.empty()) return absl::DataLossError(absl::StrCat("Esplora ", what, ": body is empty"));
  return text;
}

}  // namespace

absl::StatusOr<std::string> EsploraAddressPath(absl::string_view address,
                                               chain::BitcoinNetwork network) {
  absl::StatusOr<chain::BitcoinAddress> parsed = chain::ParseBitcoinAddress(address);
  if (!parsed.ok()) return parsed.status();
  if (!chain::AddressMatchesNetwork(*parsed, network)) {
    return absl::InvalidArgumentError("address belongs to another Bitcoin network");
  }
  return absl::StrCat("/address/", parsed->normalized);
}

absl::StatusOr<EsploraAddressBalance> ParseEsploraAddress(absl::string_view body,
                                                          absl::string_view expected_address) {
  absl::StatusOr<ExactJson> json = ExactJson::Parse(body, kMaxEsploraAddressBodyBytes);
  if (!json.ok()) {
    return absl::DataLossError(absl::StrCat("Esplora address response: ", json.status().message()));
  }
  if (!json->root().IsObject()) return FieldError("body", "is not an object");
  if (absl::Status status = CheckAddress(*json, expected_address); !status.ok()) return status;
  absl::StatusOr<Sums> chain_stats = ReadStats(*json, "chain_stats");
  if (!chain_stats.ok()) return chain_stats.status();
  absl::StatusOr<Sums> mempool_stats = ReadStats(*json, "mempool_stats");
  if (!mempool_stats.ok()) return mempool_stats.status();
  if (chain_stats->spent > chain_stats->funded) {
    return FieldError("chain_stats.spent_txo_sum", "exceeds funded_txo_sum");
  }
  EsploraAddressBalance balance;
  balance.confirmed = absl::StrCat(chain_stats->funded - chain_stats->spent);
  balance.unconfirmed_incoming = absl::StrCat(mempool_stats->funded);
  balance.unconfirmed_outgoing = absl::StrCat(mempool_stats->spent);
  return balance;
}

absl::StatusOr<uint64_t> ParseEsploraTipHeight(absl::string_view body) {
  absl::StatusOr<absl::string_view> text = TipText(body, "tip height");
  if (!text.ok()) return text.status();
  for (char c : *text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::DataLossError("Esplora tip height: not a decimal number");
    }
  }
  if (text->size() > 1 && (*text)[0] == '0') {
    return absl::DataLossError("Esplora tip height: has a leading zero");
  }
  uint64_t height = 0;
  if (!absl::SimpleAtoi(*text, &height)) {
    return absl::DataLossError("Esplora tip height: does not fit in 64 bits");
  }
  return height;
}

absl::StatusOr<std::string> ParseEsploraTipHash(absl::string_view body) {
  absl::StatusOr<absl::string_view> text = TipText(body, "tip hash");
  if (!text.ok()) return text.status();
  if (text->size() != 64) return absl::DataLossError("Esplora tip hash: not 64 hex digits");
  for (char c : *text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::DataLossError("Esplora tip hash: not 64 hex digits");
    }
  }
  return absl::AsciiStrToLower(*text);
}

}  // namespace coffer::fetcher
