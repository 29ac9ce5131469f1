// A ChainReader in memory, for tests of what drives readers: answers blocks
// and balances from tables the test fills, synchronously on the caller's
// thread unless told to hold the answers back, and records what it was
// asked.
#ifndef COFFER_TESTS_SERVICES_FETCHER_FAKE_CHAIN_READER_H_
#define COFFER_TESTS_SERVICES_FETCHER_FAKE_CHAIN_READER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "services/fetcher/balance_plan.h"
#include "services/fetcher/chains/chain_reader.h"

namespace coffer::fetcher::testing {

class FakeChainReader : public ChainReader {
 public:
  explicit FakeChainReader(std::string chain_id, uint64_t head = 100)
      : chain_id_(std::move(chain_id)), head_(head) {}

  // Balances by account id and asset id; an absent one is answered
  // NOT_FOUND from upstream "fake".
  void SetBalance(const std::string& account_id, const std::string& asset_id, std::string units) {
    balances_[{account_id, asset_id}] = std::move(units);
  }
  void FailBlocks(v1::Error error) { block_error_ = std::move(error); }

  void ResolveBlock(const v1::BlockSelector& selector, bool bypass_cache, BlockDone done) override {
    selectors.push_back(selector);
    bypassed.push_back(bypass_cache);
    v1::BlockResult result;
    result.set_chain_id(chain_id_);
    if (block_error_.has_value()) {
      *result.mutable_error() = *block_error_;
    } else {
      v1::BlockRef* block = result.mutable_block();
      block->set_chain_id(chain_id_);
      block->set_number(selector.block_case() == v1::BlockSelector::kNumber ? selector.number()
                                                                            : head_);
      block->set_hash(absl::StrCat("0xhash", block->number()));
    }
    done(std::move(result));
  }

  void ReadBalances(std::shared_ptr<BalanceCall> call, std::vector<size_t> items,
                    const v1::BlockRef& block, bool /*bypass_cache*/) override {
    read_blocks.push_back(block.number());
    std::vector<ItemResult> results;
    for (size_t index : items) {
      const PlannedItem& planned = call->plan().items[index];
      ItemResult result;
      result.index = index;
      result.item.set_source("fake");
      auto balance = balances_.find({planned.account_id, planned.asset_id});
      if (balance == balances_.end()) {
        *result.item.mutable_error() = ItemError(absl::NotFoundError("no such balance"), "fake");
      } else {
        result.item.mutable_amount()->set_units(balance->second);
        result.item.mutable_amount()->set_decimals(18);
        result.item.set_block_number(block.number());
        result.item.set_block_hash(block.hash());
      }
      results.push_back(std::move(result));
    }
    call->Complete(std::move(results));
  }

  v1::ChainStatus Status() const override {
    v1::ChainStatus status;
    status.set_chain_id(chain_id_);
    status.set_name("fake");
    return status;
  }

  // What the reader was asked, in order.
  std::vector<v1::BlockSelector> selectors;
  std::vector<bool> bypassed;
  std::vector<uint64_t> read_blocks;

 private:
  const std::string chain_id_;
  const uint64_t head_;
  std::map<std::pair<std::string, std::string>, std::string> balances_;
  std::optional<v1::Error> block_error_;
};

}  // namespace coffer::fetcher::testing

#endif  // COFFER_TESTS_SERVICES_FETCHER_FAKE_CHAIN_READER_H_
