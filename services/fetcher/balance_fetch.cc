#include "services/fetcher/balance_fetch.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace coffer::fetcher {

void FetchBalances(const std::shared_ptr<BalanceCall>& call, const ChainReaders& readers,
                   bool bypass_cache) {
  for (const auto& [chain_id, items] : call->plan().items_by_chain) {
    auto reader = readers.find(chain_id);
    if (reader == readers.end()) {
      // The plan only keeps configured chains; a reader missing for one is
      // a wiring bug, answered rather than left hanging.
      call->Fail(items, ItemError(absl::InternalError(
                            absl::StrCat("no reader for configured chain ", chain_id))));
      continue;
    }
    v1::BlockSelector selector;
    selector.set_chain_id(chain_id);
    auto pinned = call->plan().blocks.find(chain_id);
    if (pinned != call->plan().blocks.end()) selector = pinned->second;
    ChainReader* chain = reader->second;
    chain->ResolveBlock(selector, bypass_cache,
                        [call, chain, items = items, bypass_cache](v1::BlockResult result) {
                          if (result.has_error()) {
                            call->Fail(items, result.error());
                            return;
                          }
                          call->AddBlock(result.block());
                          if (call->cancelled()) {
                            call->Fail(items, ItemError(absl::CancelledError("call cancelled")));
                            return;
                          }
                          chain->ReadBalances(call, items, result.block(), bypass_cache);
                        });
  }
}

}  // namespace coffer::fetcher
