// The storage benchmark's data: registered EVM accounts, the assets read for
// each, and snapshots of their balances shaped like the fetcher's results
// (an 18-decimal amount, block number and hash, source, fetch time). The raw
// SQLCipher baseline and the gRPC load both build their rows from here, so
// both write the same bytes.
//
//   Dataset data(/*accounts=*/1000, /*assets=*/2);
//   v1::WriteSnapshotRequest request = data.Snapshot(/*first_pair=*/0, /*count=*/1000,
//                                                    /*sequence=*/7, taken_at);
//
// Pairs are (account, asset), account-major: pair p is account p / assets
// with asset p % assets. A snapshot holds `count` consecutive pairs from
// `first_pair`, wrapping around, so count <= pairs() keeps them distinct.
#ifndef COFFER_TOOLS_BENCH_STORAGE_DATASET_H_
#define COFFER_TOOLS_BENCH_STORAGE_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"

namespace coffer::bench {

class Dataset {
 public:
  // Ids in storage's normal form (EIP-55 addresses), so rows written raw
  // match those the service stores. Asset 0 is ether, the others ERC-20
  // tokens. Both counts at least 1.
  Dataset(int accounts, int assets);

  int accounts() const { return static_cast<int>(account_ids_.size()); }
  int assets() const { return static_cast<int>(asset_ids_.size()); }
  int64_t pairs() const { return static_cast<int64_t>(accounts()) * assets(); }
  const std::string& account_id(int index) const { return account_ids_[index]; }
  const std::string& asset_id(int index) const { return asset_ids_[index]; }

  // Pairs [first_pair, first_pair + count) modulo pairs(), each read
  // successfully; `sequence` varies the amounts and blocks. No idempotency
  // key: the caller sets it.
  v1::WriteSnapshotRequest Snapshot(int64_t first_pair, int count, int64_t sequence,
                                    absl::Time taken_at) const;

  // When refresh `refresh` of a history of `refreshes` refreshes, an hour
  // apart, was taken, the last an hour before `end`. The raw history
  // (raw_insert --mode=history) and the API fill (load --mode=fill) share it
  // so their snapshots interleave in time as one history.
  static absl::Time RefreshTime(absl::Time end, int64_t refreshes, int64_t refresh) {
    return end - absl::Hours(refreshes - refresh);
  }

  // AddAccounts requests registering every account, at most 10,000 each.
  std::vector<v1::AddAccountsRequest> Registration() const;

 private:
  std::vector<std::string> account_ids_;
  std::vector<std::string> asset_ids_;
};

}  // namespace coffer::bench

#endif  // COFFER_TOOLS_BENCH_STORAGE_DATASET_H_
