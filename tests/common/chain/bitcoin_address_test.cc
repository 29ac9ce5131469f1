#include "common/chain/bitcoin_address.h"

#include <cctype>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"

#include "common/chain/base58.h"
#include "common/chain/bech32.h"

namespace coffer::chain {
namespace {

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Valid {
  const char* address;
  const char* script_pub_key;
  BitcoinAddressType type;
  BitcoinNetwork network;
};

// BIP-350 "Test vectors for v0-v16 native segregated witness addresses":
// valid addresses and their scriptPubKey (this list supersedes BIP-173's).
TEST(BitcoinAddressTest, Bip350ValidSegwitAddresses) {
  using T = BitcoinAddressType;
  using N = BitcoinNetwork;
  for (const Valid& v : std::vector<Valid>{
           {"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "0014751e76e8199196d454941c45d1b3a323f1433bd6", T::kP2wpkh, N::kMainnet},
           {"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", T::kP2wsh,
            N::kTestnet},
           {"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
            T::kWitnessUnknown, N::kMainnet},
           {"BC1SW50QGDZ25J", "6002751e", T::kWitnessUnknown, N::kMainnet},
           {"bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323",
            T::kWitnessUnknown, N::kMainnet},
           {"tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
            "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433", T::kP2wsh,
            N::kTestnet},
           {"tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
            "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433", T::kP2tr,
            N::kTestnet},
           {"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", T::kP2tr,
            N::kMainnet},
           // common.proto's example.
           {"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "0014e8df018c7e326cc253faac7e46cdc51e68542c42", T::kP2wpkh, N::kMainnet},
       }) {
    absl::StatusOr<BitcoinAddress> address = ParseBitcoinAddress(v.address);
    ASSERT_TRUE(address.ok()) << v.address << ": " << address.status();
    EXPECT_EQ(Hex(ScriptPubKey(*address)), v.script_pub_key) << v.address;
    EXPECT_EQ(address->type, v.type) << v.address;
    EXPECT_EQ(address->network, v.network) << v.address;
    EXPECT_EQ(address->normalized, Lower(v.address));
  }
}

// BIP-350's invalid segwit addresses, then BIP-173's (whose v1+ "valid"
// addresses use Bech32 and are invalid since BIP-350).
TEST(BitcoinAddressTest, InvalidSegwitAddresses) {
  struct Case {
    const char* address;
    const char* reason;
  };
  for (const Case& c : std::vector<Case>{
           // BIP-350.
           {"tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
            "Invalid human-readable part"},
           {"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "Invalid checksum (Bech32 instead of Bech32m)"},
           {"tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
            "Invalid checksum (Bech32 instead of Bech32m)"},
           {"BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
            "Invalid checksum (Bech32 instead of Bech32m)"},
           {"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
            "Invalid checksum (Bech32m instead of Bech32)"},
           {"tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
            "Invalid checksum (Bech32m instead of Bech32)"},
           {"bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
            "Invalid character in checksum"},
           {"BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
            "Invalid witness version"},
           {"bc1pw5dgrnzv", "Invalid program length (1 byte)"},
           {"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
            "Invalid program length (41 bytes)"},
           {"BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
            "Invalid program length for witness version 0 (per BIP141)"},
           {"tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "Mixed case"},
           {"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
            "zero padding of more than 4 bits"},
           {"tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
            "Non-zero padding in 8-to-5 conversion"},
           {"bc1gmk9yu", "Empty data section"},
           // BIP-173.
           {"tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "Invalid human-readable part"},
           {"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "Invalid checksum"},
           {"BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "Invalid witness version"},
           {"bc1rw5uspcuh", "Invalid program length"},
           {"bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
            "Invalid program length"},
           {"BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "Invalid program length for witness v0"},
           {"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "Mixed case"},
           {"bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "zero padding of more than 4 bits"},
           {"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
            "Non-zero padding in 8-to-5 conversion"},
           // BIP-173 valid v1+ addresses, Bech32: invalid under BIP-350.
           {"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
            "v1 with Bech32"},
           {"BC1SW50QA3JX3S", "v16 with Bech32"},
           {"bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj", "v2 with Bech32"},
       }) {
    absl::StatusOr<BitcoinAddress> address = ParseBitcoinAddress(c.address);
    ASSERT_FALSE(address.ok()) << c.address << " (" << c.reason << ")";
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << c.address;
  }
}

TEST(BitcoinAddressTest, SegwitErrorsSayWhy) {
  auto message = [](absl::string_view text) {
    return std::string(ParseBitcoinAddress(text).status().message());
  };
  EXPECT_EQ(message("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"),
            "witness v1+ address must use bech32m, not bech32");
  EXPECT_EQ(message("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh"),
            "witness v0 address must use bech32, not bech32m");
  EXPECT_EQ(message("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P"),
            "witness v0 program must be 20 or 32 bytes");
  EXPECT_EQ(message("bc1pw5dgrnzv"), "witness program must be 2 to 40 bytes");
  EXPECT_EQ(message("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut"),
            "invalid segwit address prefix");
  EXPECT_EQ(message("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq"),
            "bech32 string has mixed case");
  EXPECT_EQ(message(std::string(91, '1')), "address too long");
  EXPECT_EQ(message("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf"),
            "invalid witness program padding");
  EXPECT_EQ(message("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j"),
            "invalid witness program padding");
  EXPECT_EQ(message("bc1gmk9yu"), "segwit address has no data");
  EXPECT_EQ(message("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4"),
            "invalid bech32 data character");
  EXPECT_EQ(message("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R"),
            "invalid witness version");
  EXPECT_EQ(message("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav"),
            "witness program must be 2 to 40 bytes");
  EXPECT_EQ(message("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"), "bad bech32 checksum");
}

TEST(BitcoinAddressTest, RegtestSegwit) {
  std::vector<uint8_t> program(20, 0xab);
  std::vector<uint8_t> data = {0};
  absl::StatusOr<std::vector<uint8_t>> five = ConvertBits(program, 8, 5, /*pad=*/true);
  ASSERT_TRUE(five.ok());
  data.insert(data.end(), five->begin(), five->end());
  std::string text = Bech32Encode(Bech32Encoding::kBech32, "bcrt", data);
  absl::StatusOr<BitcoinAddress> address = ParseBitcoinAddress(text);
  ASSERT_TRUE(address.ok()) << text << ": " << address.status();
  EXPECT_EQ(address->network, BitcoinNetwork::kRegtest);
  EXPECT_EQ(address->type, BitcoinAddressType::kP2wpkh);
  EXPECT_EQ(address->program, std::string(20, '\xab'));
  EXPECT_TRUE(AddressMatchesNetwork(*address, BitcoinNetwork::kRegtest));
  EXPECT_FALSE(AddressMatchesNetwork(*address, BitcoinNetwork::kTestnet));
}

TEST(BitcoinAddressTest, Base58Addresses) {
  using T = BitcoinAddressType;
  using N = BitcoinNetwork;
  for (const Valid& v : std::vector<Valid>{
           {"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "76a91477bff20c60e522dfaa3350c39b030a5d004e839a88ac", T::kP2pkh, N::kMainnet},
           {"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87",
            T::kP2sh, N::kMainnet},
           {"mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
            "76a914243f1394f44554f4ce3fd68649c19adc483ce92488ac", T::kP2pkh, N::kTestnet},
           {"2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", "a9144e9f39ca4688ff102128ea4ccda34105324305b087",
            T::kP2sh, N::kTestnet},
       }) {
    absl::StatusOr<BitcoinAddress> address = ParseBitcoinAddress(v.address);
    ASSERT_TRUE(address.ok()) << v.address << ": " << address.status();
    EXPECT_EQ(Hex(ScriptPubKey(*address)), v.script_pub_key) << v.address;
    EXPECT_EQ(address->type, v.type);
    EXPECT_EQ(address->network, v.network);
    EXPECT_EQ(address->witness_version, -1);
    EXPECT_EQ(address->normalized, v.address);
  }
  absl::StatusOr<BitcoinAddress> testnet =
      ParseBitcoinAddress("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn");
  ASSERT_TRUE(testnet.ok());
  EXPECT_TRUE(AddressMatchesNetwork(*testnet, BitcoinNetwork::kRegtest));
  EXPECT_FALSE(AddressMatchesNetwork(*testnet, BitcoinNetwork::kMainnet));
}

TEST(BitcoinAddressTest, InvalidBase58Addresses) {
  struct Case {
    std::string address;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "bad base58check checksum"},
           {"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz", "bad base58check checksum"},
           {"1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L", "bad base58check checksum"},
           {"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0", "invalid base58 character"},
           {"", "empty address"},
           // Valid Base58Check, wrong version byte (0x01) or payload length.
           {Base58CheckEncode(std::string(1, '\x01') + std::string(20, '\x11')),
            "unknown base58 address version"},
           {Base58CheckEncode(std::string(20, '\0')),
            "base58 address must hold a version and 20 bytes"},
           {Base58CheckEncode(std::string(22, '\0')),
            "base58 address must hold a version and 20 bytes"},
       }) {
    absl::StatusOr<BitcoinAddress> address = ParseBitcoinAddress(c.address);
    ASSERT_FALSE(address.ok()) << c.address;
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(address.status().message(), c.message) << c.address;
  }
  // The all-zero hash is a valid P2PKH address.
  EXPECT_TRUE(ParseBitcoinAddress("1111111111111111111114oLvT2").ok());
}

TEST(BitcoinAddressTest, TypeNames) {
  EXPECT_EQ(AddressTypeName(BitcoinAddressType::kP2pkh), "p2pkh");
  EXPECT_EQ(AddressTypeName(BitcoinAddressType::kP2tr), "p2tr");
  EXPECT_EQ(AddressTypeName(BitcoinAddressType::kWitnessUnknown), "witness_unknown");
}

}  // namespace
}  // namespace coffer::chain
