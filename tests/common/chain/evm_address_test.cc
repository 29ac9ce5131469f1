#include "common/chain/evm_address.h"

#include <cctype>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace coffer::chain {
namespace {

// The test vectors of EIP-55 (https://eips.ethereum.org/EIPS/eip-55): each
// is its own checksum spelling, including the all-caps and all-lower ones
// whose hash happens to up- or downcase every letter.
const std::vector<std::string>& Eip55Vectors() {
  static const auto* vectors = new std::vector<std::string>{
      // All caps.
      "0x52908400098527886E0F7030069857D2E4169EE7",
      "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
      // All lower.
      "0xde709f2102306220921060314715629080e2fb77",
      "0x27b1fdb04752bbc536007a920d24acb045561c26",
      // Normal.
      "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
      "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
      "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
  };
  return *vectors;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  s[1] = 'x';
  return s;
}

TEST(EvmAddressTest, Eip55VectorsAreTheirOwnChecksum) {
  for (const std::string& vector : Eip55Vectors()) {
    absl::StatusOr<EvmAddress> address = ParseEvmAddress(vector);
    ASSERT_TRUE(address.ok()) << vector << ": " << address.status();
    EXPECT_EQ(ToChecksumAddress(*address), vector);
  }
}

TEST(EvmAddressTest, AllLowerAndAllUpperAcceptedAndNormalized) {
  for (const std::string& vector : Eip55Vectors()) {
    for (const std::string& spelling : {Lower(vector), Upper(vector)}) {
      absl::StatusOr<std::string> normalized = NormalizeEvmAddress(spelling);
      ASSERT_TRUE(normalized.ok()) << spelling << ": " << normalized.status();
      EXPECT_EQ(*normalized, vector);
    }
  }
}

TEST(EvmAddressTest, ProtoExamplesAreChecksummed) {
  for (const char* address : {"0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B",
                              "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"}) {
    absl::StatusOr<std::string> normalized = NormalizeEvmAddress(address);
    ASSERT_TRUE(normalized.ok()) << address << ": " << normalized.status();
    EXPECT_EQ(*normalized, address);
  }
}

TEST(EvmAddressTest, WrongCaseOfOneLetterFailsChecksum) {
  for (const std::string& vector : Eip55Vectors()) {
    std::string lower = Lower(vector);
    if (lower == vector || Upper(vector) == vector) continue;  // No checksum to break.
    for (size_t i = 2; i < vector.size(); ++i) {
      if (!std::isalpha(static_cast<unsigned char>(vector[i]))) continue;
      std::string flipped = vector;
      flipped[i] = static_cast<char>(std::islower(static_cast<unsigned char>(flipped[i]))
                                         ? std::toupper(flipped[i])
                                         : std::tolower(flipped[i]));
      absl::StatusOr<EvmAddress> address = ParseEvmAddress(flipped);
      ASSERT_FALSE(address.ok()) << flipped;
      EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(address.status().message(), "bad EIP-55 checksum");
    }
  }
}

TEST(EvmAddressTest, RejectsMalformed) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "address must start with 0x"},
           {"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "address must start with 0x"},
           {"0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "address must start with 0x"},
           {"0x", "address must be 40 hex digits"},
           {"0x12", "address must be 40 hex digits"},
           {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "address must be 40 hex digits"},
           {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0", "address must be 40 hex digits"},
           {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "address must be 40 hex digits"},
           {" 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "address must start with 0x"},
           {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe ", "address must be 40 hex digits"},
           {"0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "bad EIP-55 checksum"},
       }) {
    absl::StatusOr<EvmAddress> address = ParseEvmAddress(c.text);
    ASSERT_FALSE(address.ok()) << c.text;
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(address.status().message(), c.message) << c.text;
  }
}

TEST(EvmAddressTest, ParsesBytes) {
  absl::StatusOr<EvmAddress> address =
      ParseEvmAddress("0x00000000000000000000000000000000000000ff");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ((*address)[0], 0);
  EXPECT_EQ((*address)[19], 0xff);
}

}  // namespace
}  // namespace coffer::chain
