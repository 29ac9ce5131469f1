#include "common/chain/caip.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "common/chain/bitcoin_address.h"
#include "common/chain/evm_address.h"

namespace coffer::chain {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [-a-z0-9]{3,8}: CAIP-2 and CAIP-19 namespaces.
bool IsNamespace(absl::string_view s) {
  if (s.size() < 3 || s.size() > 8) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// [-_a-zA-Z0-9]{1,32}: CAIP-2 references.
bool IsChainReference(absl::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

// 0 or [1-9][0-9]*, at most `max_digits`.
bool IsDecimal(absl::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

absl::Status Invalid(absl::string_view kind, absl::string_view text, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(kind, " ", text, ": ", what));
}

absl::Status CheckLength(absl::string_view kind, absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(kind, " is empty"));
  if (text.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " is longer than ", kMaxIdLength, " bytes"));
  }
  return absl::OkStatus();
}

// Parses `chain_text`, the chain id part of the `kind` id `text`, naming the
// whole id in errors.
absl::StatusOr<ChainId> ParseChainIdPart(absl::string_view chain_text, absl::string_view kind,
                                         absl::string_view text) {
  size_t colon = chain_text.find(':');
  if (colon == absl::string_view::npos) {
    return Invalid(kind, text, "chain id must be namespace:reference");
  }
  ChainId chain{std::string(chain_text.substr(0, colon)),
                std::string(chain_text.substr(colon + 1))};
  if (!IsNamespace(chain.chain_namespace)) {
    return Invalid(kind, text, "chain namespace must be 3 to 8 of [-a-z0-9]");
  }
  if (!IsChainReference(chain.reference)) {
    return Invalid(kind, text, "chain reference must be 1 to 32 of [-_a-zA-Z0-9]");
  }
  if (chain.IsEvm() && !IsDecimal(chain.reference, 32)) {
    return Invalid(kind, text, "eip155 chain reference must be a decimal chain id");
  }
  if (chain.IsEvm() && chain.reference == "0") {
    return Invalid(kind, text, "eip155 chain id 0 is not a chain");
  }
  if (chain.IsBitcoin()) {
    bool hex = chain.reference.size() == 32;
    for (char c : chain.reference) hex &= IsDigit(c) || (c >= 'a' && c <= 'f');
    if (!hex) {
      return Invalid(kind, text, "bip122 chain reference must be 32 lowercase hex digits");
    }
  }
  return chain;
}

}  // namespace

absl::StatusOr<BitcoinNetwork> BitcoinNetworkOf(const ChainId& chain) {
  if (chain.reference == kBitcoinMainnetReference) return BitcoinNetwork::kMainnet;
  if (chain.reference == kBitcoinTestnetReference || chain.reference == kBitcoinTestnet4Reference ||
      chain.reference == kBitcoinSignetReference) {
    return BitcoinNetwork::kTestnet;
  }
  if (chain.reference == kBitcoinRegtestReference) return BitcoinNetwork::kRegtest;
  return absl::NotFoundError("unknown bip122 chain");
}

std::string ChainId::ToString() const { return absl::StrCat(chain_namespace, ":", reference); }

std::string AccountId::ToString() const { return absl::StrCat(chain.ToString(), ":", address); }

std::string AssetId::ToString() const {
  return absl::StrCat(chain.ToString(), "/", asset_namespace, ":", asset_reference);
}

absl::StatusOr<ChainId> ParseChainId(absl::string_view text) {
  if (absl::Status status = CheckLength("chain id", text); !status.ok()) return status;
  return ParseChainIdPart(text, "chain id", text);
}

absl::StatusOr<AccountId> ParseAccountId(absl::string_view text) {
  constexpr absl::string_view kKind = "account id";
  if (absl::Status status = CheckLength(kKind, text); !status.ok()) return status;
  size_t first = text.find(':');
  size_t second = first == absl::string_view::npos ? first : text.find(':', first + 1);
  if (second == absl::string_view::npos) {
    return Invalid(kKind, text, "must be namespace:reference:address");
  }
  absl::StatusOr<ChainId> chain = ParseChainIdPart(text.substr(0, second), kKind, text);
  if (!chain.ok()) return chain.status();
  absl::string_view address = text.substr(second + 1);
  if (address.empty()) return Invalid(kKind, text, "address is empty");

  AccountId account{*std::move(chain), ""};
  if (account.chain.IsEvm()) {
    absl::StatusOr<std::string> normalized = NormalizeEvmAddress(address);
    if (!normalized.ok()) return Invalid(kKind, text, normalized.status().message());
    account.address = *std::move(normalized);
  } else if (account.chain.IsBitcoin()) {
    absl::StatusOr<BitcoinNetwork> network = BitcoinNetworkOf(account.chain);
    if (!network.ok()) return Invalid(kKind, text, network.status().message());
    absl::StatusOr<BitcoinAddress> parsed = ParseBitcoinAddress(address);
    if (!parsed.ok()) return Invalid(kKind, text, parsed.status().message());
    if (!AddressMatchesNetwork(*parsed, *network)) {
      return Invalid(kKind, text, "address is for another bitcoin network");
    }
    account.address = std::move(parsed->normalized);
  } else {
    return Invalid(kKind, text, "unsupported chain namespace (eip155 or bip122)");
  }
  return account;
}

absl::StatusOr<AssetId> ParseAssetId(absl::string_view text) {
  constexpr absl::string_view kKind = "asset id";
  if (absl::Status status = CheckLength(kKind, text); !status.ok()) return status;
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return Invalid(kKind, text, "must be chain_id/asset_namespace:asset_reference");
  }
  absl::StatusOr<ChainId> chain = ParseChainIdPart(text.substr(0, slash), kKind, text);
  if (!chain.ok()) return chain.status();
  absl::string_view asset = text.substr(slash + 1);
  if (asset.find('/') != absl::string_view::npos) {
    return Invalid(kKind, text, "token ids are not supported");
  }
  size_t colon = asset.find(':');
  if (colon == absl::string_view::npos) {
    return Invalid(kKind, text, "asset must be asset_namespace:asset_reference");
  }
  AssetId id{*std::move(chain), std::string(asset.substr(0, colon)), ""};
  absl::string_view reference = asset.substr(colon + 1);
  if (!IsNamespace(id.asset_namespace)) {
    return Invalid(kKind, text, "asset namespace must be 3 to 8 of [-a-z0-9]");
  }
  if (!id.chain.IsEvm() && !id.chain.IsBitcoin()) {
    return Invalid(kKind, text, "unsupported chain namespace (eip155 or bip122)");
  }
  if (id.asset_namespace == "slip44") {
    if (!IsDecimal(reference, 10)) {
      return Invalid(kKind, text, "slip44 reference must be a decimal coin type");
    }
    id.asset_reference = std::string(reference);
  } else if (id.asset_namespace == "erc20") {
    if (!id.chain.IsEvm()) return Invalid(kKind, text, "erc20 assets exist only on eip155 chains");
    absl::StatusOr<std::string> contract = NormalizeEvmAddress(reference);
    if (!contract.ok()) {
      return Invalid(kKind, text, absl::StrCat("erc20 contract ", contract.status().message()));
    }
    id.asset_reference = *std::move(contract);
  } else {
    return Invalid(kKind, text, "unsupported asset namespace (slip44 or erc20)");
  }
  return id;
}

absl::StatusOr<std::string> NormalizeAccountId(absl::string_view text) {
  absl::StatusOr<AccountId> id = ParseAccountId(text);
  if (!id.ok()) return id.status();
  return id->ToString();
}

absl::StatusOr<std::string> NormalizeAssetId(absl::string_view text) {
  absl::StatusOr<AssetId> id = ParseAssetId(text);
  if (!id.ok()) return id.status();
  return id->ToString();
}

}  // namespace coffer::chain
