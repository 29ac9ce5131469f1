// Drives a balance call across its chains: each chain's block is resolved
// once for the whole request (the request's selector, or the chain's head),
// reported, and then every item of that chain is read at it, so one
// request never mixes blocks. Chains proceed independently: one whose head
// cannot be resolved fails its own items and no others.
//
//   auto call = std::make_shared<BalanceCall>(std::move(plan), sink);
//   call->Start();
//   FetchBalances(call, readers, request.bypass_cache());
#ifndef COFFER_SERVICES_FETCHER_BALANCE_FETCH_H_
#define COFFER_SERVICES_FETCHER_BALANCE_FETCH_H_

#include <map>
#include <memory>
#include <string>

#include "services/fetcher/balance_call.h"
#include "services/fetcher/chains/chain_reader.h"

namespace coffer::fetcher {

// Readers by normalized CAIP-2 chain id; they outlive every call.
using ChainReaders = std::map<std::string, ChainReader*>;

// Returns at once; the call finishes on the readers' threads.
void FetchBalances(const std::shared_ptr<BalanceCall>& call, const ChainReaders& readers,
                   bool bypass_cache);

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_BALANCE_FETCH_H_
