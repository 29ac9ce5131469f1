#include "services/fetcher/chains/evm/block.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace coffer::fetcher::evm {
namespace {

constexpr char kHash[] = "0x6a2b3c9f1e0d4c5b8a7968574635241302f1e0d9c8b7a6958473625140312abc";

std::string Block(const std::string& members) { return "{" + members + "}"; }

TEST(ParseBlockTest, NumberHashAndTime) {
  absl::StatusOr<v1::BlockRef> block =
      ParseBlock(Block(R"("number":"0x10d4f","hash":")" + std::string(kHash) +
                       R"(","timestamp":"0x6560a1b0","transactions":[])"),
                 "eip155:1", "latest");
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->chain_id(), "eip155:1");
  EXPECT_EQ(block->number(), 68943u);
  EXPECT_EQ(block->hash(), kHash);
  EXPECT_EQ(block->time().seconds(), 0x6560a1b0);
}

TEST(ParseBlockTest, HashIsLowercased) {
  std::string upper = kHash;
  for (size_t i = 2; i < upper.size(); ++i) upper[i] = static_cast<char>(toupper(upper[i]));
  absl::StatusOr<v1::BlockRef> block =
      ParseBlock(Block(R"("number":"0x1","hash":")" + upper + "\""), "eip155:1", "latest");
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ(block->hash(), kHash);
  EXPECT_FALSE(block->has_time());
}

TEST(ParseBlockTest, UnknownBlockIsOutOfRangeNamingIt) {
  absl::StatusOr<v1::BlockRef> block = ParseBlock("null", "eip155:1", "0x99999999");
  EXPECT_EQ(block.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(absl::StrContains(block.status().message(), "0x99999999")) << block.status();
}

TEST(ParseBlockTest, MalformedAnswersAreDataLossNamingTheField) {
  const std::string hash = std::string(R"(,"hash":")") + kHash + "\"";
  const struct {
    std::string json;
    const char* field;
  } cases[] = {
      {"{", "not JSON"},
      {"[1]", "not an object"},
      {"\"0x1\"", "not an object"},
      {Block(R"("hash":")" + std::string(kHash) + "\""), "block.number"},
      {Block(R"("number":16)" + hash), "block.number"},
      {Block(R"("number":"16")" + hash), "block.number"},
      {Block(R"("number":"0x")" + hash), "block.number"},
      {Block(R"("number":"0x10000000000000000")" + hash), "block.number"},
      {Block(R"("number":"0x1","hash":"0x12")"), "block.hash"},
      {Block(R"("number":"0x1","hash":7)"), "block.hash"},
      {Block(R"("number":"0x1","hash":")" + std::string(kHash).substr(2) + "00\""), "block.hash"},
      {Block(R"("number":"0x1","timestamp":"soon")"), "block.timestamp"},
      {Block(R"("number":"0x1","timestamp":"0xffffffffffffffff")"), "block.timestamp"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    absl::StatusOr<v1::BlockRef> block = ParseBlock(c.json, "eip155:1", "latest");
    EXPECT_EQ(block.status().code(), absl::StatusCode::kDataLoss) << block.status();
    EXPECT_TRUE(absl::StrContains(block.status().message(), c.field)) << block.status();
  }
}

}  // namespace
}  // namespace coffer::fetcher::evm
