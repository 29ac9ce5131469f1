#include "services/fetcher/chains/bitcoin/bitcoin_network.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

chain::ChainId Chain(const std::string& text) {
  absl::StatusOr<chain::ChainId> id = chain::ParseChainId(text);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or(chain::ChainId{});
}

TEST(BitcoinNetworkTest, KnownChains) {
  EXPECT_EQ(*BitcoinNetworkOfChain(Chain("bip122:000000000019d6689c085ae165831e93")),
            chain::BitcoinNetwork::kMainnet);
  EXPECT_EQ(*BitcoinNetworkOfChain(Chain("bip122:000000000933ea01ad0ee984209779ba")),
            chain::BitcoinNetwork::kTestnet);
  EXPECT_EQ(*BitcoinNetworkOfChain(Chain("bip122:00000000da84f2bafbbc53dee25a72ae")),
            chain::BitcoinNetwork::kTestnet);
  EXPECT_EQ(*BitcoinNetworkOfChain(Chain("bip122:00000008819873e925422c1ff0f207a1")),
            chain::BitcoinNetwork::kTestnet);
  EXPECT_EQ(*BitcoinNetworkOfChain(Chain("bip122:0f9188f13cb7b2c71f2a335e3a4fc328")),
            chain::BitcoinNetwork::kRegtest);
}

TEST(BitcoinNetworkTest, UnknownChainsAreInvalid) {
  EXPECT_EQ(BitcoinNetworkOfChain(Chain("bip122:12a765e31ffd4059bada1e25190f6e98")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BitcoinNetworkOfChain(Chain("eip155:1")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::fetcher
