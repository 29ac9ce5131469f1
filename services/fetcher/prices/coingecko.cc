#include "services/fetcher/prices/coingecko.h"

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "services/fetcher/prices/exact_json.h"

namespace coffer::fetcher {
namespace {

// Unix seconds from 2009 to 2200: anything else is not a price time.
constexpr uint64_t kMinPriceUnixSeconds = 1'230'768'000;
constexpr uint64_t kMaxPriceUnixSeconds = 7'258'118'400;

bool IsQuoteCurrency(absl::string_view quote) {
  if (quote.size() < 2 || quote.size() > 10) return false;
  for (char c : quote) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

// RFC 3986 percent-encoding of everything but unreserved characters, so an
// id holding ',' or '&' cannot split or end the ids parameter.
std::string UrlEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded.push_back(c);
    } else {
      encoded.push_back('%');
      encoded.push_back(kHex[byte >> 4]);
      encoded.push_back(kHex[byte & 0xf]);
    }
  }
  return encoded;
}

absl::string_view View(const rapidjson::Value& value) {
  return absl::string_view(value.GetString(), value.GetStringLength());
}

const rapidjson::Value* Find(const rapidjson::Value& object, absl::string_view key) {
  const auto it = object.FindMember(rapidjson::Value(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// CoinGecko answers errors (rate limits, bad keys) with HTTP errors, but
// some proxies and plans send them with 200:
// {"status":{"error_code":429,"error_message":"..."}}.
absl::Status UpstreamError(const ExactJson& json) {
  const rapidjson::Value* status = Find(json.root(), "status");
  if (status == nullptr || !status->IsObject()) return absl::OkStatus();
  const rapidjson::Value* code = Find(*status, "error_code");
  if (code == nullptr) return absl::OkStatus();
  absl::StatusOr<uint64_t> number =
      json.IsNumber(*code) ? Uint64FromJsonNumber(View(*code)) : absl::StatusOr<uint64_t>(0);
  const uint64_t error_code = number.ok() ? *number : 0;
  const std::string message = absl::StrCat("price source answered error_code ", error_code);
  if (error_code == 429) return absl::ResourceExhaustedError(message);
  return absl::UnavailableError(message);
}

absl::StatusOr<CoinGeckoPrice> ReadPrice(const ExactJson& json, const std::string& id,
                                         absl::string_view quote) {
  const rapidjson::Value* entry = Find(json.root(), id);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("price source has no price for ", id));
  }
  if (!entry->IsObject()) return absl::DataLossError(absl::StrCat(id, ": is not an object"));
  const std::string field = absl::StrCat(id, ".", quote);
  const rapidjson::Value* value = Find(*entry, quote);
  if (value == nullptr || value->IsNull()) {
    return absl::NotFoundError(absl::StrCat("price source has no ", quote, " price for ", id));
  }
  if (!json.IsNumber(*value)) return absl::DataLossError(absl::StrCat(field, ": is not a number"));
  absl::StatusOr<chain::DecimalAmount> price = DecimalFromJsonNumber(View(*value));
  if (!price.ok()) return absl::DataLossError(absl::StrCat(field, ": ", price.status().message()));
  CoinGeckoPrice result{*std::move(price), std::nullopt};
  const rapidjson::Value* updated = Find(*entry, "last_updated_at");
  if (updated != nullptr && !updated->IsNull()) {
    const std::string updated_field = absl::StrCat(id, ".last_updated_at");
    if (!json.IsNumber(*updated)) {
      return absl::DataLossError(absl::StrCat(updated_field, ": is not a number"));
    }
    absl::StatusOr<uint64_t> seconds = Uint64FromJsonNumber(View(*updated));
    if (!seconds.ok()) {
      return absl::DataLossError(absl::StrCat(updated_field, ": ", seconds.status().message()));
    }
    if (*seconds < kMinPriceUnixSeconds || *seconds > kMaxPriceUnixSeconds) {
      return absl::DataLossError(absl::StrCat(updated_field, ": is not a plausible time"));
    }
    result.last_updated_at = absl::FromUnixSeconds(static_cast<int64_t>(*seconds));
  }
  return result;
}

}  // namespace

absl::StatusOr<std::vector<CoinGeckoRequest>> CoinGeckoSimplePriceRequests(
    const std::vector<std::string>& ids, absl::string_view quote_currency,
    size_t max_ids_per_request) {
  if (!IsQuoteCurrency(quote_currency)) {
    return absl::InvalidArgumentError("quote currency must be 2 to 10 lowercase letters");
  }
  if (max_ids_per_request == 0) {
    return absl::InvalidArgumentError("max_ids_per_request must be positive");
  }
  std::vector<std::string> unique;
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& id : ids) {
    if (id.empty() || id.size() > kMaxPriceIdLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("price ids must be 1 to ", kMaxPriceIdLength, " bytes"));
    }
    if (seen.insert(id).second) unique.push_back(id);
  }
  std::vector<CoinGeckoRequest> requests;
  for (size_t start = 0; start < unique.size(); start += max_ids_per_request) {
    CoinGeckoRequest request;
    const size_t end = std::min(unique.size(), start + max_ids_per_request);
    request.ids.assign(unique.begin() + static_cast<ptrdiff_t>(start),
                       unique.begin() + static_cast<ptrdiff_t>(end));
    request.path = absl::StrCat(
        "/simple/price?ids=",
        absl::StrJoin(request.ids, ",",
                      [](std::string* out, const std::string& id) { out->append(UrlEncode(id)); }),
        "&vs_currencies=", quote_currency, "&include_last_updated_at=true");
    requests.push_back(std::move(request));
  }
  return requests;
}

absl::StatusOr<std::vector<absl::StatusOr<CoinGeckoPrice>>> ParseCoinGeckoSimplePrice(
    absl::string_view body, const std::vector<std::string>& ids, absl::string_view quote_currency) {
  absl::StatusOr<ExactJson> json = ExactJson::Parse(body, kMaxCoinGeckoBodyBytes);
  if (!json.ok()) {
    return absl::DataLossError(absl::StrCat("price response: ", json.status().message()));
  }
  if (!json->root().IsObject()) return absl::DataLossError("price response: is not an object");
  if (absl::Status error = UpstreamError(*json); !error.ok()) return error;
  std::vector<absl::StatusOr<CoinGeckoPrice>> prices;
  prices.reserve(ids.size());
  for (const std::string& id : ids) prices.push_back(ReadPrice(*json, id, quote_currency));
  return prices;
}

}  // namespace coffer::fetcher
