#include "common/chain/base58.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace coffer::chain {
namespace {

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }
std::string Bytes(absl::string_view hex) { return absl::HexStringToBytes(hex); }

// Payloads (version byte + hash160) checked independently with Python's
// hashlib and a textbook base58 decoder.
TEST(Base58Test, CheckDecodeKnownAddresses) {
  struct Case {
    const char* address;
    const char* payload;
  };
  for (const Case& c : {
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "0077bff20c60e522dfaa3350c39b030a5d004e839a"},
           Case{"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "05b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"},
           Case{"mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "6f243f1394f44554f4ce3fd68649c19adc483ce924"},
           Case{"2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc",
                "c44e9f39ca4688ff102128ea4ccda34105324305b0"},
           Case{"1111111111111111111114oLvT2", "000000000000000000000000000000000000000000"},
       }) {
    absl::StatusOr<std::string> payload = Base58CheckDecode(c.address);
    ASSERT_TRUE(payload.ok()) << c.address << ": " << payload.status();
    EXPECT_EQ(Hex(*payload), c.payload);
    EXPECT_EQ(Base58CheckEncode(Bytes(c.payload)), c.address);
  }
}

// Vectors from Bitcoin Core's src/test/data/base58_encode_decode.json.
TEST(Base58Test, EncodeDecodeVectors) {
  struct Case {
    const char* hex;
    const char* text;
  };
  for (const Case& c : {
           Case{"", ""},
           Case{"61", "2g"},
           Case{"626262", "a3gV"},
           Case{"636363", "aPEr"},
           Case{"73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"},
           Case{"00eb15231dfceb60925886b67d065299925915aeb172c06647",
                "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
           Case{"516b6fcd0f", "ABnLTmg"},
           Case{"bf4f89001e670274dd", "3SEo3LWLoPntC"},
           Case{"572e4794", "3EFU7m"},
           Case{"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
           Case{"10c8511e", "Rt5zm"},
           Case{"00000000000000000000", "1111111111"},
       }) {
    EXPECT_EQ(Base58Encode(Bytes(c.hex)), c.text) << c.hex;
    if (*c.text == '\0') continue;  // Decoding "" is refused.
    absl::StatusOr<std::string> bytes = Base58Decode(c.text);
    ASSERT_TRUE(bytes.ok()) << c.text;
    EXPECT_EQ(Hex(*bytes), c.hex);
  }
}

TEST(Base58Test, RejectsCorruptedAddresses) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           // One character changed, one dropped, two swapped.
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "bad base58check checksum"},
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN", "bad base58check checksum"},
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNNV2", "bad base58check checksum"},
           Case{"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz", "bad base58check checksum"},
           // Characters outside the alphabet.
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0", "invalid base58 character"},
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVNO", "invalid base58 character"},
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVNI", "invalid base58 character"},
           Case{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVNl", "invalid base58 character"},
           Case{" 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "invalid base58 character"},
           Case{"", "empty base58 string"},
           Case{"1", "base58check string too short"},
       }) {
    absl::StatusOr<std::string> payload = Base58CheckDecode(c.text);
    ASSERT_FALSE(payload.ok()) << c.text;
    EXPECT_EQ(payload.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(payload.status().message(), c.message) << c.text;
  }
  EXPECT_FALSE(Base58Decode(std::string(kMaxBase58Length + 1, '2')).ok());
}

TEST(Base58Test, DoubleSha256) {
  // SHA-256(SHA-256("hello")), a widely quoted value.
  EXPECT_EQ(Hex(DoubleSha256("hello")),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50");
}

}  // namespace
}  // namespace coffer::chain
