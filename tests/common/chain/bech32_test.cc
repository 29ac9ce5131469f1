#include "common/chain/bech32.h"

#include <cctype>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace coffer::chain {
namespace {

// BIP-173, "Test vectors": valid Bech32 strings.
const std::vector<std::string> kValidBech32 = {
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
};

// BIP-350, "Test vectors for Bech32m": valid Bech32m strings.
const std::vector<std::string> kValidBech32m = {
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
};

TEST(Bech32Test, Bip173ValidChecksums) {
  for (const std::string& text : kValidBech32) {
    absl::StatusOr<Bech32Decoded> decoded = Bech32Decode(text);
    ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.status();
    EXPECT_EQ(decoded->encoding, Bech32Encoding::kBech32) << text;
    // Re-encoding gives the lowercase spelling back.
    std::string lower = text;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(Bech32Encode(decoded->encoding, decoded->hrp, decoded->data), lower);
  }
}

TEST(Bech32Test, Bip350ValidChecksums) {
  for (const std::string& text : kValidBech32m) {
    absl::StatusOr<Bech32Decoded> decoded = Bech32Decode(text);
    ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.status();
    EXPECT_EQ(decoded->encoding, Bech32Encoding::kBech32m) << text;
  }
}

// A string is never valid in both variants (BIP-350), so each list is an
// invalid list for the other: the decoder must tell them apart.
TEST(Bech32Test, VariantsAreDistinguished) {
  for (const std::string& text : kValidBech32) {
    EXPECT_NE(Bech32Decode(text)->encoding, Bech32Encoding::kBech32m) << text;
  }
  for (const std::string& text : kValidBech32m) {
    EXPECT_NE(Bech32Decode(text)->encoding, Bech32Encoding::kBech32) << text;
  }
}

// BIP-173 and BIP-350 invalid strings, with the reason each BIP gives.
TEST(Bech32Test, InvalidChecksums) {
  struct Case {
    std::string text;
    const char* reason;
  };
  const std::vector<Case> cases = {
      // BIP-173.
      {std::string("\x20") + "1nwldj5", "HRP character out of range"},
      {std::string("\x7f") + "1axkwrx", "HRP character out of range"},
      {std::string("\x80") + "1eym55h", "HRP character out of range"},
      {"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pv"
       "x",
       "overall max length exceeded"},
      {"pzry9x0s0muk", "No separator character"},
      {"1pzry9x0s0muk", "Empty HRP"},
      {"x1b4n0q5v", "Invalid data character"},
      {"li1dgmt3", "Too short checksum"},
      {std::string("de1lg7wt") + "\xff", "Invalid character in checksum"},
      {"A1G7SGD8", "checksum calculated with uppercase form of HRP"},
      {"10a06t8", "empty HRP"},
      {"1qzzfhee", "empty HRP"},
      // BIP-350.
      {std::string("\x20") + "1xj0phk", "HRP character out of range"},
      {std::string("\x7f") + "1g6xzxy", "HRP character out of range"},
      {std::string("\x80") + "1vctc34", "HRP character out of range"},
      {"an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts"
       "4",
       "overall max length exceeded"},
      {"qyrz8wqd2c9m", "No separator character"},
      {"1qyrz8wqd2c9m", "Empty HRP"},
      {"y1b0jsk6g", "Invalid data character"},
      {"lt1igcx5c0", "Invalid data character"},
      {"in1muywd", "Too short checksum"},
      {"mm1crxm3i", "Invalid character in checksum"},
      {"au1s5cgom", "Invalid character in checksum"},
      {"M1VUXWEZ", "checksum calculated with uppercase form of HRP"},
      {"16plkw9", "empty HRP"},
      {"1p2gdwpf", "empty HRP"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Bech32Decoded> decoded = Bech32Decode(c.text);
    ASSERT_FALSE(decoded.ok()) << c.text << " (" << c.reason << ")";
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(Bech32Test, MixedCaseRejected) {
  absl::StatusOr<Bech32Decoded> decoded = Bech32Decode("A12uEL5L");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().message(), "bech32 string has mixed case");
}

TEST(Bech32Test, ConvertBitsRoundTrip) {
  std::vector<uint8_t> bytes = {0x75, 0x1e, 0x76, 0xe8, 0x19};
  absl::StatusOr<std::vector<uint8_t>> five = ConvertBits(bytes, 8, 5, /*pad=*/true);
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->size(), 8u);
  absl::StatusOr<std::vector<uint8_t>> eight = ConvertBits(*five, 5, 8, /*pad=*/false);
  ASSERT_TRUE(eight.ok());
  EXPECT_EQ(*eight, bytes);
  // 5 bytes -> 40 bits -> 8 groups exactly; one more group is 5 bits of
  // padding, more than 4.
  five->push_back(0);
  EXPECT_FALSE(ConvertBits(*five, 5, 8, /*pad=*/false).ok());
  // Non-zero padding.
  std::vector<uint8_t> odd = {1, 1};
  EXPECT_FALSE(ConvertBits(odd, 5, 8, /*pad=*/false).ok());
  // Value out of range for 5 bits.
  std::vector<uint8_t> big = {32};
  EXPECT_FALSE(ConvertBits(big, 5, 8, /*pad=*/false).ok());
}

}  // namespace
}  // namespace coffer::chain
