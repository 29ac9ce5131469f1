// ChainReader for an EVM chain over JSON-RPC.
//
// A request's items are read at one block (the number in every call, never
// "latest" per call) in as few HTTP requests as the nodes allow:
//   - native balances: eth_getBalance, many per JSON-RPC batch array;
//   - ERC-20 balances: aggregated, hundreds per eth_call, through the
//     chain's Multicall3 (aggregate3, a success flag per balance) when one
//     is configured, else through the deployless BalanceScanner (its
//     creation code as the eth_call's data, any node, no deployment); with
//     aggregate_size 1, each balanceOf its own eth_call in batch arrays;
//   - token decimals: configured, or read once with decimals() and cached.
// The batches go through a JsonRpcBatcher (endpoint fallback, cool-downs,
// batch splitting). An aggregate the node refuses whole (out of gas, a
// result over its size cap) is split in halves until it passes or holds
// one balance. A balance that cannot be read is an error for its item,
// never a zero.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_CHAIN_READER_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_CHAIN_READER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "services/fetcher/chains/chain_reader.h"
#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/json_rpc_batcher.h"
#include "services/fetcher/chains/upstream_transport.h"

namespace coffer::fetcher {

struct EvmAsset {
  // Normalized CAIP-19.
  std::string asset_id;
  // Unset for tokens whose decimals are read from the chain.
  std::optional<uint32_t> decimals = std::nullopt;
  std::string symbol = {};
  std::string name = {};
  std::string price_id = {};
};

struct EvmChainOptions {
  std::string chain_id;  // normalized CAIP-2
  std::string name;
  EvmAsset native;
  std::vector<EvmAsset> tokens;  // erc20 assets, configuration order
  // EIP-55; empty: no Multicall3, the deployless scanner aggregates.
  std::string multicall_address;
  // Most balanceOf calls per aggregate (the scanner takes at most 383);
  // 1: no aggregation, one eth_call per balance.
  size_t aggregate_size = 500;
  // Deadline of one request's upstream work.
  absl::Duration request_timeout = absl::Seconds(30);
  // How long a resolved head is reused by requests that do not bypass
  // caches: a burst of requests costs one eth_getBlockByNumber.
  absl::Duration head_ttl = absl::Seconds(1);
};

class EvmChainReader : public ChainReader {
 public:
  // `endpoints` and `transport` outlive the reader.
  EvmChainReader(EvmChainOptions options, EndpointSet* endpoints, UpstreamTransport* transport);

  void ResolveBlock(const v1::BlockSelector& selector, bool bypass_cache, BlockDone done) override;
  void ReadBalances(std::shared_ptr<BalanceCall> call, std::vector<size_t> items,
                    const v1::BlockRef& block, bool bypass_cache) override;
  v1::ChainStatus Status() const override;
  void Probe() override;

 private:
  void ReadNative(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                  const v1::BlockRef& block);
  // Reads the decimals still unknown among `items`' tokens, then their
  // balances.
  void ReadTokens(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                  const v1::BlockRef& block);
  void ReadTokenBalances(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                         const v1::BlockRef& block);
  // One aggregate3 over `items`; halves it when the node refuses it whole.
  void ReadAggregate(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                     const v1::BlockRef& block);
  // One BalanceScanner call for `token` over `items`' accounts; halved
  // like an aggregate.
  void ReadScanner(const std::shared_ptr<BalanceCall>& call, const std::string& token,
                   std::vector<size_t> items, const v1::BlockRef& block);
  void ReadTokensDirectly(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                          const v1::BlockRef& block);

  // The batcher's Send for work of `call`: bounded by its deadline and
  // stopped once it is cancelled.
  void SendForCall(const std::shared_ptr<BalanceCall>& call, std::vector<RpcCall> calls,
                   JsonRpcBatcher::ChunkDone on_chunk);
  // An aggregate (Multicall3 or scanner) that failed whole: `retry` each
  // half when the failure may be its size, else every item gets `error`.
  void HalveOrFail(const std::shared_ptr<BalanceCall>& call, std::vector<size_t> items,
                   const v1::BlockRef& block, const absl::Status& error,
                   const std::string& upstream,
                   const std::function<void(std::vector<size_t>)>& retry) const;
  std::optional<uint32_t> KnownDecimals(const std::string& token) const;
  // A balance item for plan item `index` read at `block`.
  ItemResult Answer(size_t index, const v1::BlockRef& block, absl::StatusOr<std::string> units,
                    std::optional<uint32_t> decimals, const std::string& upstream) const;
  // The reader's own timeout, or the client's deadline when sooner.
  absl::Time Deadline(const BalanceCall* call = nullptr) const {
    const absl::Time own = absl::Now() + options_.request_timeout;
    return call != nullptr ? std::min(own, call->deadline()) : own;
  }

  const EvmChainOptions options_;
  EndpointSet* const endpoints_;
  UpstreamTransport* const transport_;
  JsonRpcBatcher batcher_;

  mutable std::mutex mu_;
  // Token contract (EIP-55) -> decimals, configured or read.
  std::map<std::string, uint32_t> decimals_;   // guarded by mu_
  std::optional<v1::BlockRef> head_;           // guarded by mu_
  absl::Time head_at_ = absl::InfinitePast();  // guarded by mu_
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_CHAIN_READER_H_
