#include "common/chain/bitcoin_address.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

#include "common/chain/base58.h"
#include "common/chain/bech32.h"

namespace coffer::chain {
namespace {

constexpr size_t kHash160Size = 20;

absl::StatusOr<BitcoinAddress> ParseSegwit(absl::string_view text, absl::string_view hrp,
                                           BitcoinNetwork network) {
  absl::StatusOr<Bech32Decoded> decoded = Bech32Decode(text);
  if (!decoded.ok()) return decoded.status();
  if (decoded->hrp != hrp) {
    return absl::InvalidArgumentError("invalid segwit address prefix");
  }
  if (decoded->data.empty()) return absl::InvalidArgumentError("segwit address has no data");
  int version = decoded->data[0];
  if (version > 16) return absl::InvalidArgumentError("invalid witness version");
  absl::StatusOr<std::vector<uint8_t>> program =
      ConvertBits(absl::MakeConstSpan(decoded->data).subspan(1), 5, 8, /*pad=*/false);
  if (!program.ok()) {
    return absl::InvalidArgumentError("invalid witness program padding");
  }
  if (program->size() < 2 || program->size() > 40) {
    return absl::InvalidArgumentError("witness program must be 2 to 40 bytes");
  }
  if (version == 0 && program->size() != 20 && program->size() != 32) {
    return absl::InvalidArgumentError("witness v0 program must be 20 or 32 bytes");
  }
  if (version == 0 && decoded->encoding != Bech32Encoding::kBech32) {
    return absl::InvalidArgumentError("witness v0 address must use bech32, not bech32m");
  }
  if (version != 0 && decoded->encoding != Bech32Encoding::kBech32m) {
    return absl::InvalidArgumentError("witness v1+ address must use bech32m, not bech32");
  }

  BitcoinAddress address;
  address.network = network;
  address.witness_version = version;
  address.program.assign(program->begin(), program->end());
  if (version == 0) {
    address.type = program->size() == 20 ? BitcoinAddressType::kP2wpkh : BitcoinAddressType::kP2wsh;
  } else if (version == 1 && program->size() == 32) {
    address.type = BitcoinAddressType::kP2tr;
  } else {
    address.type = BitcoinAddressType::kWitnessUnknown;
  }
  address.normalized = Bech32Encode(decoded->encoding, decoded->hrp, decoded->data);
  return address;
}

absl::StatusOr<BitcoinAddress> ParseBase58(absl::string_view text) {
  absl::StatusOr<std::string> payload = Base58CheckDecode(text);
  if (!payload.ok()) return payload.status();
  if (payload->size() != 1 + kHash160Size) {
    return absl::InvalidArgumentError("base58 address must hold a version and 20 bytes");
  }
  BitcoinAddress address;
  switch (static_cast<uint8_t>((*payload)[0])) {
    case 0x00:
      address = {BitcoinAddressType::kP2pkh, BitcoinNetwork::kMainnet, -1, "", ""};
      break;
    case 0x05:
      address = {BitcoinAddressType::kP2sh, BitcoinNetwork::kMainnet, -1, "", ""};
      break;
    case 0x6f:
      address = {BitcoinAddressType::kP2pkh, BitcoinNetwork::kTestnet, -1, "", ""};
      break;
    case 0xc4:
      address = {BitcoinAddressType::kP2sh, BitcoinNetwork::kTestnet, -1, "", ""};
      break;
    default:
      return absl::InvalidArgumentError("unknown base58 address version");
  }
  address.program = payload->substr(1);
  address.normalized = std::string(text);
  return address;
}

bool StartsWithCaseless(absl::string_view text, absl::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<BitcoinAddress> ParseBitcoinAddress(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty address");
  if (text.size() > kMaxBech32Length) return absl::InvalidArgumentError("address too long");
  // "bcrt1" before "bc1". No Base58 address of the four versions accepted
  // here starts with these prefixes (their first characters are 1, 3, m, n
  // and 2), so the prefix alone decides the encoding.
  if (StartsWithCaseless(text, "bcrt1")) {
    return ParseSegwit(text, "bcrt", BitcoinNetwork::kRegtest);
  }
  if (StartsWithCaseless(text, "bc1")) return ParseSegwit(text, "bc", BitcoinNetwork::kMainnet);
  if (StartsWithCaseless(text, "tb1")) return ParseSegwit(text, "tb", BitcoinNetwork::kTestnet);
  absl::StatusOr<BitcoinAddress> legacy = ParseBase58(text);
  if (!legacy.ok() && Bech32Decode(text).ok()) {
    // Valid Bech32 under another prefix (another coin or network): say so
    // rather than report a Base58 error.
    return absl::InvalidArgumentError("invalid segwit address prefix");
  }
  return legacy;
}

bool AddressMatchesNetwork(const BitcoinAddress& address, BitcoinNetwork chain) {
  if (address.network == chain) return true;
  return address.witness_version < 0 && address.network == BitcoinNetwork::kTestnet &&
         chain == BitcoinNetwork::kRegtest;
}

std::string ScriptPubKey(const BitcoinAddress& address) {
  std::string script;
  const auto push_size = static_cast<char>(address.program.size());
  switch (address.type) {
    case BitcoinAddressType::kP2pkh:
      script = {'\x76', '\xa9', push_size};
      script += address.program;
      script += "\x88\xac";
      return script;
    case BitcoinAddressType::kP2sh:
      script = {'\xa9', push_size};
      script += address.program;
      script += '\x87';
      return script;
    default:
      script.push_back(
          address.witness_version == 0 ? '\0' : static_cast<char>(0x50 + address.witness_version));
      script.push_back(push_size);
      script += address.program;
      return script;
  }
}

absl::string_view AddressTypeName(BitcoinAddressType type) {
  switch (type) {
    case BitcoinAddressType::kP2pkh:
      return "p2pkh";
    case BitcoinAddressType::kP2sh:
      return "p2sh";
    case BitcoinAddressType::kP2wpkh:
      return "p2wpkh";
    case BitcoinAddressType::kP2wsh:
      return "p2wsh";
    case BitcoinAddressType::kP2tr:
      return "p2tr";
    case BitcoinAddressType::kWitnessUnknown:
      return "witness_unknown";
  }
  return "unknown";
}

}  // namespace coffer::chain
