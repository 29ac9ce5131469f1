#include "tools/bench/storage/dataset.h"

#include <cstdio>
#include <cstdlib>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "common/chain/caip.h"

namespace coffer::bench {
namespace {

// SplitMix64: cheap, deterministic, well spread; addresses and amounts look
// random to the B-trees without a random source.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// 40 hex digits: 32 mixed, then the index, so distinct indexes never collide.
std::string Address(uint64_t salt, int index) {
  return absl::StrFormat("0x%016x%016x%08x", Mix(salt ^ Mix(index)),
                         Mix((salt + 1) ^ Mix(index + 1)), static_cast<uint32_t>(index));
}

std::string Normal(absl::StatusOr<std::string> id, const std::string& given) {
  if (!id.ok()) {
    // A bug in this file: every id built above is valid.
    std::fprintf(stderr, "dataset: %s: %s\n", given.c_str(), id.status().ToString().c_str());
    std::abort();
  }
  return *std::move(id);
}

}  // namespace

Dataset::Dataset(int accounts, int assets) {
  for (int i = 0; i < accounts; ++i) {
    const std::string given = absl::StrCat("eip155:1:", Address(0x6163636f756e74ULL, i));
    account_ids_.push_back(Normal(chain::NormalizeAccountId(given), given));
  }
  for (int i = 0; i < assets; ++i) {
    const std::string given = i == 0 ? std::string("eip155:1/slip44:60")
                                     : absl::StrCat("eip155:1/erc20:", Address(0x746f6b656eULL, i));
    asset_ids_.push_back(Normal(chain::NormalizeAssetId(given), given));
  }
}

v1::WriteSnapshotRequest Dataset::Snapshot(int64_t first_pair, int count, int64_t sequence,
                                           absl::Time taken_at) const {
  v1::WriteSnapshotRequest request;
  const int64_t taken_at_nanos = absl::ToUnixNanos(taken_at);
  request.mutable_taken_at()->set_seconds(taken_at_nanos / 1000000000);
  request.mutable_taken_at()->set_nanos(static_cast<int32_t>(taken_at_nanos % 1000000000));
  const uint64_t block = 21000000 + static_cast<uint64_t>(sequence);
  v1::BlockRef* block_ref = request.add_blocks();
  block_ref->set_chain_id("eip155:1");
  block_ref->set_number(block);
  const std::string block_hash = absl::StrFormat("0x%016x%016x%016x%016x", Mix(block),
                                                 Mix(block + 1), Mix(block + 2), Mix(block + 3));
  block_ref->set_hash(block_hash);
  request.mutable_items()->Reserve(count);
  for (int k = 0; k < count; ++k) {
    const int64_t pair = (first_pair + k) % pairs();
    v1::BalanceItem* item = request.add_items();
    item->set_account_id(account_ids_[pair / assets()]);
    item->set_asset_id(asset_ids_[pair % assets()]);
    // Up to 19 digits at 18 decimals: a few ether, like real balances.
    item->mutable_amount()->set_units(absl::StrCat(
        Mix(static_cast<uint64_t>(pair) * 1000003 + sequence) % 10000000000000000000ULL));
    item->mutable_amount()->set_decimals(18);
    item->set_block_number(block);
    item->set_block_hash(block_hash);
    item->set_source("mainnet-1");
    const int64_t fetched_at = taken_at_nanos + 250000000 + k * 1000;
    item->mutable_fetched_at()->set_seconds(fetched_at / 1000000000);
    item->mutable_fetched_at()->set_nanos(static_cast<int32_t>(fetched_at % 1000000000));
  }
  return request;
}

std::vector<v1::AddAccountsRequest> Dataset::Registration() const {
  std::vector<v1::AddAccountsRequest> requests;
  for (int i = 0; i < accounts(); ++i) {
    if (i % 10000 == 0) requests.emplace_back();
    v1::Account* account = requests.back().add_accounts();
    account->set_account_id(account_ids_[i]);
    account->set_label(absl::StrCat("bench account ", i));
    for (const std::string& asset : asset_ids_) account->add_asset_ids(asset);
  }
  return requests;
}

}  // namespace coffer::bench
