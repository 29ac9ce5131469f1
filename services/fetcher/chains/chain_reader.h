// What the fetcher needs of one configured chain, whatever its kind: resolve
// a block selector to a block, and read the balances of a balance call's
// items at that block. EVM chains (chains/evm) and Bitcoin
// (chains/bitcoin) implement it over the HTTP engine; tests implement it in
// memory.
//
// Both calls return at once and finish on another thread (the HTTP loop's):
// a reader never blocks its caller, which is a gRPC polling thread.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_CHAIN_READER_H_
#define COFFER_SERVICES_FETCHER_CHAINS_CHAIN_READER_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"

#include "coffer/v1/common.pb.h"
#include "coffer/v1/fetcher.pb.h"
#include "services/fetcher/balance_call.h"

namespace coffer::fetcher {

class ChainReader {
 public:
  // The block, or the error (with the upstream that failed) that stands in
  // for it.
  using BlockDone = absl::AnyInvocable<void(v1::BlockResult)>;

  virtual ~ChainReader() = default;

  // The block `selector` names now (its chain is this reader's).
  virtual void ResolveBlock(const v1::BlockSelector& selector, bool bypass_cache,
                            BlockDone done) = 0;

  // Reads plan items `items` of `call` (all on this chain, none failed
  // already) at `block`, handing every one a result through call->Complete
  // or call->Fail, exactly once, as upstream requests complete.
  virtual void ReadBalances(std::shared_ptr<BalanceCall> call, std::vector<size_t> items,
                            const v1::BlockRef& block, bool bypass_cache) = 0;

  // Checks every endpoint with a request that exercises what balances
  // need (for EVM a real eth_call: nodes that answer eth_blockNumber and
  // fail eth_call are common) and records the outcome in its health.
  // Returns at once.
  virtual void Probe() {}

  // The chain, its assets and its endpoints with live health, for
  // ListUpstreams.
  virtual v1::ChainStatus Status() const = 0;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_CHAIN_READER_H_
