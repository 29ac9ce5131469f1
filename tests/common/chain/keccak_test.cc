#include "common/chain/keccak.h"

#include <string>

#include "gtest/gtest.h"
#include <openssl/evp.h>

namespace coffer::chain {
namespace {

// Known Keccak-256 digests. "" and "abc" are the standard Ethereum vectors;
// the 'a' x N ones were computed with js-sha3's keccak256 (an independent
// JavaScript implementation, tools/npm/node_modules/js-sha3) around the
// 136-byte rate: one block less a byte, exactly one block (the padding takes
// a block of its own), one more, and several blocks.
TEST(Keccak256Test, KnownVectors) {
  EXPECT_EQ(Keccak256Hex(""), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(Keccak256Hex("abc"),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  EXPECT_EQ(Keccak256Hex("The quick brown fox jumps over the lazy dog"),
            "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
  EXPECT_EQ(Keccak256Hex(std::string(135, 'a')),
            "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446");
  EXPECT_EQ(Keccak256Hex(std::string(136, 'a')),
            "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e");
  EXPECT_EQ(Keccak256Hex(std::string(137, 'a')),
            "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39");
  EXPECT_EQ(Keccak256Hex(std::string(200, 'a')),
            "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d");
  EXPECT_EQ(Keccak256Hex(std::string(1000, 'a')),
            "b6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9");
}

TEST(Keccak256Test, DigestMatchesHex) {
  Keccak256Digest digest = Keccak256("abc");
  EXPECT_EQ(digest[0], 0x4e);
  EXPECT_EQ(digest[31], 0x45);
}

// SHA3-256 is the same sponge with domain byte 0x06, and OpenSSL has it:
// checking every length from 0 to 600 bytes against OpenSSL exercises the
// permutation, partial and full blocks and the padding boundary.
TEST(Keccak256Test, SpongeMatchesOpenSslSha3) {
  std::string data;
  for (int length = 0; length <= 600; ++length) {
    unsigned char expected[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    ASSERT_EQ(EVP_Digest(data.data(), data.size(), expected, &size, EVP_sha3_256(), nullptr), 1);
    ASSERT_EQ(size, 32u);
    Keccak256Digest actual = internal::KeccakSponge256(data, 0x06);
    ASSERT_EQ(std::string(actual.begin(), actual.end()),
              std::string(reinterpret_cast<char*>(expected), size))
        << "length " << length;
    data.push_back(static_cast<char>((length * 131 + 7) & 0xff));
  }
}

}  // namespace
}  // namespace coffer::chain
