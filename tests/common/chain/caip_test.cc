#include "common/chain/caip.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace coffer::chain {
namespace {

constexpr char kMainnet[] = "bip122:000000000019d6689c085ae165831e93";
constexpr char kTestnet[] = "bip122:000000000933ea01ad0ee984209779ba";
constexpr char kRegtest[] = "bip122:0f9188f13cb7b2c71f2a335e3a4fc328";

void ExpectInvalid(const absl::Status& status, const std::string& message) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message(), message);
}

TEST(ChainIdTest, ParsesAndFormats) {
  for (const char* text : {"eip155:1", "eip155:31337", kMainnet, "cosmos:cosmoshub-3"}) {
    absl::StatusOr<ChainId> chain = ParseChainId(text);
    ASSERT_TRUE(chain.ok()) << text << ": " << chain.status();
    EXPECT_EQ(chain->ToString(), text);
  }
  absl::StatusOr<ChainId> chain = ParseChainId("eip155:1");
  EXPECT_EQ(chain->chain_namespace, "eip155");
  EXPECT_EQ(chain->reference, "1");
  EXPECT_TRUE(chain->IsEvm());
  EXPECT_FALSE(chain->IsBitcoin());
}

TEST(ChainIdTest, Rejects) {
  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "chain id is empty"},
           {"eip155", "chain id eip155: chain id must be namespace:reference"},
           {"ei:1", "chain id ei:1: chain namespace must be 3 to 8 of [-a-z0-9]"},
           {"EIP155:1", "chain id EIP155:1: chain namespace must be 3 to 8 of [-a-z0-9]"},
           {"eip155:", "chain id eip155:: chain reference must be 1 to 32 of [-_a-zA-Z0-9]"},
           {"eip155:1:2", "chain id eip155:1:2: chain reference must be 1 to 32 of [-_a-zA-Z0-9]"},
           {"eip155:01", "chain id eip155:01: eip155 chain reference must be a decimal chain id"},
           {"eip155:abc", "chain id eip155:abc: eip155 chain reference must be a decimal chain id"},
           {"eip155:0", "chain id eip155:0: eip155 chain id 0 is not a chain"},
           {"bip122:000000000019D6689C085AE165831E93",
            "chain id bip122:000000000019D6689C085AE165831E93: bip122 chain reference must be 32 "
            "lowercase hex digits"},
           {"bip122:1234",
            "chain id bip122:1234: bip122 chain reference must be 32 lowercase hex "
            "digits"},
           {std::string(201, 'a'), "chain id is longer than 200 bytes"},
       }) {
    ExpectInvalid(ParseChainId(c.text).status(), c.message);
  }
}

TEST(AccountIdTest, EvmNormalizedToChecksum) {
  for (const char* text : {"eip155:1:0xab5801a7d398351b8be11c439e05c5b3259aec9b",
                           "eip155:1:0xAB5801A7D398351B8BE11C439E05C5B3259AEC9B",
                           "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"}) {
    absl::StatusOr<std::string> normalized = NormalizeAccountId(text);
    ASSERT_TRUE(normalized.ok()) << text << ": " << normalized.status();
    EXPECT_EQ(*normalized, "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B");
  }
  absl::StatusOr<AccountId> account =
      ParseAccountId("eip155:31337:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(account->chain.reference, "31337");
  EXPECT_EQ(account->address, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
}

TEST(AccountIdTest, Bitcoin) {
  struct Case {
    std::string text;
    std::string normalized;
  };
  for (const Case& c : std::vector<Case>{
           {std::string(kMainnet) + ":bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            std::string(kMainnet) + ":bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"},
           {std::string(kMainnet) + ":BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            std::string(kMainnet) + ":bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
           {std::string(kMainnet) + ":1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            std::string(kMainnet) + ":1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"},
           {std::string(kMainnet) + ":3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            std::string(kMainnet) + ":3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"},
           {std::string(kTestnet) + ":mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
            std::string(kTestnet) + ":mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"},
           {std::string(kRegtest) + ":mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
            std::string(kRegtest) + ":mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"},
           {std::string(kTestnet) +
                ":tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            std::string(kTestnet) +
                ":tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"},
       }) {
    absl::StatusOr<std::string> normalized = NormalizeAccountId(c.text);
    ASSERT_TRUE(normalized.ok()) << c.text << ": " << normalized.status();
    EXPECT_EQ(*normalized, c.normalized);
  }
}

TEST(AccountIdTest, Rejects) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string mainnet(kMainnet);
  for (const Case& c : std::vector<Case>{
           {"eip155:1:0x12", "account id eip155:1:0x12: address must be 40 hex digits"},
           {"eip155:1:", "account id eip155:1:: address is empty"},
           {"eip155:1", "account id eip155:1: must be namespace:reference:address"},
           {"eip155:1:0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "account id eip155:1:0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed: bad EIP-55 checksum"},
           {"eip155:01:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "account id eip155:01:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed: eip155 chain "
            "reference must be a decimal chain id"},
           {"cosmos:cosmoshub-3:cosmos1abc",
            "account id cosmos:cosmoshub-3:cosmos1abc: unsupported chain namespace (eip155 or "
            "bip122)"},
           {mainnet + ":mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
            "account id " + mainnet +
                ":mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn: address is for another bitcoin network"},
           {mainnet + ":tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            "account id " + mainnet +
                ":tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7: address is for "
                "another bitcoin network"},
           {mainnet + ":1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",
            "account id " + mainnet +
                ":1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3: bad base58check "
                "checksum"},
           {"bip122:00000000000000000000000000000000:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "account id bip122:00000000000000000000000000000000:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
            ": unknown bip122 chain"},
           {"eip155:1:0x" + std::string(200, 'a'), "account id is longer than 200 bytes"},
       }) {
    ExpectInvalid(ParseAccountId(c.text).status(), c.message);
  }
}

TEST(AssetIdTest, ParsesAndNormalizes) {
  struct Case {
    std::string text;
    std::string normalized;
  };
  for (const Case& c : std::vector<Case>{
           {"eip155:1/slip44:60", "eip155:1/slip44:60"},
           {"eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
            "eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"},
           {"eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"},
           {std::string(kMainnet) + "/slip44:0", std::string(kMainnet) + "/slip44:0"},
           {"eip155:137/slip44:966", "eip155:137/slip44:966"},
       }) {
    absl::StatusOr<std::string> normalized = NormalizeAssetId(c.text);
    ASSERT_TRUE(normalized.ok()) << c.text << ": " << normalized.status();
    EXPECT_EQ(*normalized, c.normalized);
  }
  absl::StatusOr<AssetId> asset = ParseAssetId("eip155:1/slip44:60");
  ASSERT_TRUE(asset.ok());
  EXPECT_TRUE(asset->IsNative());
  EXPECT_EQ(asset->asset_reference, "60");
}

TEST(AssetIdTest, Rejects) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string mainnet(kMainnet);
  for (const Case& c : std::vector<Case>{
           {"eip155:1", "asset id eip155:1: must be chain_id/asset_namespace:asset_reference"},
           {"eip155:1/slip44",
            "asset id eip155:1/slip44: asset must be "
            "asset_namespace:asset_reference"},
           {"eip155:1/slip44:060",
            "asset id eip155:1/slip44:060: slip44 reference must be a decimal coin type"},
           {"eip155:1/slip44:",
            "asset id eip155:1/slip44:: slip44 reference must be a decimal "
            "coin type"},
           {"eip155:1/erc20:0x12",
            "asset id eip155:1/erc20:0x12: erc20 contract address must be "
            "40 hex digits"},
           {"eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eb48",
            "asset id eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eb48: erc20 contract "
            "bad EIP-55 checksum"},
           {mainnet + "/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "asset id " + mainnet +
                "/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48: erc20 assets exist only on "
                "eip155 chains"},
           {"eip155:1/erc721:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48/1",
            "asset id eip155:1/erc721:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48/1: token ids are "
            "not supported"},
           {"eip155:1/erc721:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
            "asset id eip155:1/erc721:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48: unsupported "
            "asset namespace (slip44 or erc20)"},
           {"eip155:1/SLIP44:60",
            "asset id eip155:1/SLIP44:60: asset namespace must be 3 to 8 of [-a-z0-9]"},
           {"cosmos:cosmoshub-3/slip44:118",
            "asset id cosmos:cosmoshub-3/slip44:118: unsupported chain namespace (eip155 or "
            "bip122)"},
           {"", "asset id is empty"},
       }) {
    ExpectInvalid(ParseAssetId(c.text).status(), c.message);
  }
}

// Every one-character mutation of valid ids either fails with
// INVALID_ARGUMENT or yields an id whose normal form is a fixed point (runs
// under ASan in CI, so it also checks the parsers never read out of bounds).
TEST(CaipTest, MutationsFailCleanlyOrNormalizeIdempotently) {
  const std::vector<std::string> seeds = {
      "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B",
      std::string(kMainnet) + ":bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
      std::string(kMainnet) + ":bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
      std::string(kMainnet) + ":1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
      std::string(kTestnet) + ":2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc",
      "eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
      std::string(kMainnet) + "/slip44:0",
  };
  const std::string alphabet = std::string("0aZ1:/xX.-_ qlO") + '\0' + '\xff';
  int accepted = 0;
  for (const std::string& seed : seeds) {
    for (size_t i = 0; i < seed.size(); ++i) {
      for (char c : alphabet) {
        for (int op = 0; op < 3; ++op) {
          std::string mutated = seed;
          if (op == 0) mutated[i] = c;
          if (op == 1) mutated.insert(i, 1, c);
          if (op == 2) mutated.erase(i, 1);
          for (auto normalize : {&NormalizeAccountId, &NormalizeAssetId}) {
            absl::StatusOr<std::string> normalized = normalize(mutated);
            if (!normalized.ok()) {
              ASSERT_EQ(normalized.status().code(), absl::StatusCode::kInvalidArgument);
              continue;
            }
            ++accepted;
            absl::StatusOr<std::string> again = normalize(*normalized);
            ASSERT_TRUE(again.ok()) << mutated;
            EXPECT_EQ(*again, *normalized) << mutated;
          }
        }
      }
    }
  }
  EXPECT_GT(accepted, 0);  // Some mutations are harmless (case, chain id).
}

}  // namespace
}  // namespace coffer::chain
