#include "tools/cofferctl/query_command.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "common/chain/caip.h"
#include "common/status/status_macros.h"
#include "tools/cofferctl/flags.h"
#include "tools/cofferctl/ids.h"
#include "tools/cofferctl/inputs.h"
#include "tools/cofferctl/output.h"
#include "tools/cofferctl/progress_bar.h"

ABSL_FLAG(std::string, block, "",
          "Block to read at on every chain queried: latest, safe, finalized or a height; "
          "empty: each chain's head");
ABSL_FLAG(int32_t, query_batch, 500,
          "Accounts per fetcher request of `query`: a longer list is split into several "
          "requests, all read at one block per chain");

namespace coffer::cofferctl {
namespace {

using client::Service;
using v1::Fetcher;

// fetcher.proto: BalanceQuery.asset_ids and ResolveBlocksRequest.blocks.
constexpr size_t kMaxAssetsPerQuery = 100;
constexpr size_t kMaxSelectorsPerResolve = 100;

// What the command line asks for.
struct QuerySpec {
  std::vector<std::string> account_ids;
  std::vector<std::string> asset_ids;
  // The normal forms of asset_ids, to place results in --asset order.
  std::vector<std::string> normal_assets;
  // --block without its chain: applied to every chain queried.
  std::optional<v1::BlockSelector> block;
  bool bypass_cache = false;
  size_t batch = 500;
};

// What one StreamBalances call answered: query_index relative to its request.
struct StreamAnswer {
  std::vector<v1::BalanceResult> results;
  std::vector<v1::BlockRef> blocks;
  absl::Status status;
};

absl::StatusOr<std::optional<v1::BlockSelector>> ParseBlock(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  v1::BlockSelector selector;
  const std::string tag = absl::AsciiStrToLower(text);
  uint64_t number = 0;
  if (tag == "latest") {
    selector.set_tag(v1::BLOCK_TAG_LATEST);
  } else if (tag == "safe") {
    selector.set_tag(v1::BLOCK_TAG_SAFE);
  } else if (tag == "finalized") {
    selector.set_tag(v1::BLOCK_TAG_FINALIZED);
  } else if (absl::SimpleAtoi(text, &number)) {
    selector.set_number(number);
  } else {
    return UsageError(
        absl::StrCat("--block: \"", text, "\" is not latest, safe, finalized or a block height"));
  }
  return selector;
}

// The ids to query: arguments, --file or stdin, bare addresses prefixed
// with --chain.
absl::StatusOr<std::vector<std::string>> AccountIds(const CommandContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   ReadIds(ctx.args, absl::GetFlag(FLAGS_file), std::cin));
  const std::string chain_id = absl::GetFlag(FLAGS_chain);
  RETURN_IF_ERROR(CheckChainFlag(chain_id));
  RETURN_IF_ERROR(CompleteAccountIds(ids, chain_id));
  return ids;
}

absl::StatusOr<QuerySpec> ParseSpec(const CommandContext& ctx) {
  QuerySpec spec;
  ASSIGN_OR_RETURN(spec.account_ids, AccountIds(ctx));
  spec.asset_ids = absl::GetFlag(FLAGS_asset);
  if (spec.asset_ids.size() > kMaxAssetsPerQuery) {
    return UsageError(absl::StrCat("--asset: at most ", kMaxAssetsPerQuery, " assets"));
  }
  const std::string chain_id = absl::GetFlag(FLAGS_chain);
  std::set<std::string> seen;
  for (std::string& asset : spec.asset_ids) {
    // "slip44:60" with --chain: that chain's asset, as accounts add reads it.
    ASSIGN_OR_RETURN(asset, CompleteAssetId(asset, chain_id));
    absl::StatusOr<std::string> normal = chain::NormalizeAssetId(asset);
    // An invalid asset is the fetcher's to report, per item.
    spec.normal_assets.push_back(normal.ok() ? *normal : asset);
    if (!seen.insert(spec.normal_assets.back()).second) {
      return UsageError(absl::StrCat("--asset: ", asset, " is named twice"));
    }
  }
  ASSIGN_OR_RETURN(spec.block, ParseBlock(absl::GetFlag(FLAGS_block)));
  spec.bypass_cache = absl::GetFlag(FLAGS_force);
  const int32_t batch = absl::GetFlag(FLAGS_query_batch);
  if (batch <= 0) return UsageError("--query_batch must be positive");
  spec.batch = static_cast<size_t>(batch);
  return spec;
}

// The chains of the valid account ids, in first-seen order.
std::vector<std::string> ChainsOf(const std::vector<std::string>& account_ids) {
  std::vector<std::string> chains;
  std::set<std::string> seen;
  for (const std::string& id : account_ids) {
    absl::StatusOr<chain::AccountId> account = chain::ParseAccountId(id);
    if (!account.ok()) continue;
    std::string chain_id = account->chain.ToString();
    if (seen.insert(chain_id).second) chains.push_back(std::move(chain_id));
  }
  return chains;
}

// Resolves once the block each chain is read at, so that every request of a
// split query reads the same block (fetcher.proto, BlockSelector.number),
// and so that --block never names a chain the fetcher does not know (which
// would fail the whole request rather than that chain's items). A chain the
// fetcher does not know gets no selector: its items fail on their own. A
// chain that cannot be resolved now keeps the selector asked for, so its
// items carry the fetcher's error; with no --block it is read at its head.
absl::StatusOr<std::vector<v1::BlockSelector>> PinBlocks(CommandContext& ctx,
                                                         const QuerySpec& spec) {
  const std::vector<std::string> chains = ChainsOf(spec.account_ids);
  std::vector<v1::BlockSelector> pinned;
  for (size_t start = 0; start < chains.size(); start += kMaxSelectorsPerResolve) {
    v1::ResolveBlocksRequest request;
    request.set_bypass_cache(spec.bypass_cache);
    for (size_t i = start; i < std::min(chains.size(), start + kMaxSelectorsPerResolve); ++i) {
      v1::BlockSelector* selector = request.add_blocks();
      if (spec.block.has_value()) *selector = *spec.block;
      selector->set_chain_id(chains[i]);
    }
    absl::StatusOr<v1::ResolveBlocksResponse> response = ctx.coffer.fetcher().CallBlocking(
        &Fetcher::Stub::PrepareAsyncResolveBlocks, request, ctx.coffer.options());
    if (!response.ok()) return ctx.coffer.Annotate(Service::kFetcher, response.status());
    for (int i = 0; i < response->results_size() && i < request.blocks_size(); ++i) {
      const v1::BlockResult& result = response->results(i);
      if (result.has_block()) {
        v1::BlockSelector selector;
        selector.set_chain_id(request.blocks(i).chain_id());
        selector.set_number(result.block().number());
        pinned.push_back(std::move(selector));
      } else if (spec.block.has_value() && result.error().code() != v1::Error::NOT_FOUND) {
        pinned.push_back(request.blocks(i));
      }
    }
  }
  return pinned;
}

v1::QueryBalancesRequest MakeRequest(const QuerySpec& spec, size_t begin, size_t end,
                                     const std::vector<v1::BlockSelector>& blocks) {
  v1::QueryBalancesRequest request;
  for (size_t i = begin; i < end; ++i) {
    v1::BalanceQuery* query = request.add_queries();
    query->set_account_id(spec.account_ids[i]);
    for (const std::string& asset : spec.asset_ids) query->add_asset_ids(asset);
  }
  for (const v1::BlockSelector& block : blocks) *request.add_blocks() = block;
  request.set_bypass_cache(spec.bypass_cache);
  return request;
}

// One StreamBalances call, waited for. `progress(done, total)` runs on the
// client's poller thread for each message; it is not called after this
// returns.
StreamAnswer StreamRequest(CommandContext& ctx, const v1::QueryBalancesRequest& request,
                           std::function<void(uint64_t, uint64_t)> progress) {
  struct Shared {
    absl::Mutex mu;
    StreamAnswer answer ABSL_GUARDED_BY(mu);
    bool ended ABSL_GUARDED_BY(mu) = false;
  };
  // Shared with the callbacks, which may run after a caller that gave up
  // would have returned; here the caller always waits for the end.
  auto shared = std::make_shared<Shared>();
  ctx.coffer.fetcher().Stream(
      &Fetcher::Stub::PrepareAsyncStreamBalances, request,
      [shared, progress](const v1::StreamBalancesResponse& message) {
        uint64_t received = 0;
        {
          absl::MutexLock lock(&shared->mu);
          for (const v1::BalanceResult& result : message.results()) {
            shared->answer.results.push_back(result);
          }
          for (const v1::BlockRef& block : message.blocks()) {
            shared->answer.blocks.push_back(block);
          }
          received = shared->answer.results.size();
        }
        progress(received, message.progress().total());
      },
      [shared](absl::Status status) {
        absl::MutexLock lock(&shared->mu);
        shared->answer.status = std::move(status);
        shared->ended = true;
      },
      ctx.coffer.options());
  absl::MutexLock lock(&shared->mu);
  shared->mu.Await(absl::Condition(&shared->ended));
  return std::move(shared->answer);
}

// After a stream that ended early: an error result for each item of
// [begin, end) that has none, so no account silently disappears. With
// --asset the missing items are known exactly; otherwise a query that got
// nothing gets one result with no asset (as the fetcher answers a query it
// could not expand).
void AddMissing(const QuerySpec& spec, size_t begin, size_t end, const absl::Status& status,
                v1::QueryBalancesResponse* response) {
  std::map<uint32_t, std::set<std::string>> answered;
  for (const v1::BalanceResult& result : response->results()) {
    if (result.query_index() >= begin && result.query_index() < end) {
      answered[result.query_index()].insert(result.balance().asset_id());
    }
  }
  auto add = [&](size_t index, const std::string& asset_id) {
    v1::BalanceResult* result = response->add_results();
    result->set_query_index(static_cast<uint32_t>(index));
    result->mutable_balance()->set_account_id(spec.account_ids[index]);
    result->mutable_balance()->set_asset_id(asset_id);
    v1::Error* error = result->mutable_balance()->mutable_error();
    error->set_code(static_cast<v1::Error::Code>(status.code()));
    error->set_message(std::string(status.message()));
  };
  for (size_t index = begin; index < end; ++index) {
    const std::set<std::string>& got = answered[static_cast<uint32_t>(index)];
    if (spec.asset_ids.empty()) {
      if (got.empty()) add(index, "");
      continue;
    }
    for (const std::string& asset : spec.normal_assets) {
      if (!got.count(asset)) add(index, asset);
    }
  }
}

// Runs the requests, one stream at a time, and assembles what they
// answered into one QueryBalancesResponse (query_index into the whole list).
absl::StatusOr<v1::QueryBalancesResponse> Query(CommandContext& ctx, const QuerySpec& spec) {
  const size_t n = spec.account_ids.size();
  std::vector<v1::BlockSelector> blocks;
  if (spec.block.has_value() || n > spec.batch) {
    ASSIGN_OR_RETURN(blocks, PinBlocks(ctx, spec));
  }

  std::deque<std::pair<size_t, size_t>> ranges;
  for (size_t begin = 0; begin < n; begin += spec.batch) {
    ranges.emplace_back(begin, std::min(n, begin + spec.batch));
  }
  v1::QueryBalancesResponse all;
  std::set<std::pair<std::string, uint64_t>> blocks_seen;
  ProgressBar bar(ctx.err, ctx.interactive, "query");
  uint64_t finished = 0;
  while (!ranges.empty()) {
    const auto [begin, end] = ranges.front();
    ranges.pop_front();
    size_t later = 0;
    for (const auto& [b, e] : ranges) later += e - b;
    // The total is known per request; for the requests still to come it is
    // estimated from this one's items per account.
    auto progress = [&bar, finished, later, accounts = end - begin](uint64_t done, uint64_t total) {
      total = std::max(total, done);
      bar.Update(static_cast<int64_t>(finished + done),
                 static_cast<int64_t>(finished + total + total * later / accounts));
    };
    StreamAnswer answer = StreamRequest(ctx, MakeRequest(spec, begin, end, blocks), progress);
    if (!answer.status.ok() && answer.results.empty()) {
      // Larger than the fetcher's max_batch_items (or it is overloaded):
      // the same accounts in two halves.
      if (answer.status.code() == absl::StatusCode::kResourceExhausted && end - begin > 1) {
        const size_t middle = begin + (end - begin) / 2;
        ranges.emplace_front(middle, end);
        ranges.emplace_front(begin, middle);
        continue;
      }
      return ctx.coffer.Annotate(Service::kFetcher, answer.status);
    }
    finished += answer.results.size();
    for (v1::BalanceResult& result : answer.results) {
      result.set_query_index(result.query_index() + static_cast<uint32_t>(begin));
      *all.add_results() = std::move(result);
    }
    for (v1::BlockRef& block : answer.blocks) {
      if (blocks_seen.emplace(block.chain_id(), block.number()).second) {
        *all.add_blocks() = std::move(block);
      }
    }
    if (!answer.status.ok()) {
      AddMissing(spec, begin, end, ctx.coffer.Annotate(Service::kFetcher, answer.status), &all);
    }
  }
  bar.Finish();
  return all;
}

// QueryBalances order: by query, then in --asset order; expanded assets
// (whose configuration order the stream does not tell) native first, then
// by id.
void SortResults(const QuerySpec& spec, v1::QueryBalancesResponse* response) {
  auto rank = [&spec](const v1::BalanceResult& result) {
    const std::string& asset = result.balance().asset_id();
    if (spec.normal_assets.empty()) {
      return absl::StrContains(asset, "/slip44:") ? size_t{0} : size_t{1};
    }
    auto found = std::find(spec.normal_assets.begin(), spec.normal_assets.end(), asset);
    return static_cast<size_t>(found - spec.normal_assets.begin());
  };
  std::stable_sort(response->mutable_results()->begin(), response->mutable_results()->end(),
                   [&rank](const v1::BalanceResult& a, const v1::BalanceResult& b) {
                     return std::make_tuple(a.query_index(), rank(a), a.balance().asset_id()) <
                            std::make_tuple(b.query_index(), rank(b), b.balance().asset_id());
                   });
}

std::string ResultsTable(const v1::QueryBalancesResponse& response) {
  Table table({"ACCOUNT", "ASSET", {"BALANCE", Align::kRight}, {"BLOCK", Align::kRight}, "ERROR"});
  for (const v1::BalanceResult& result : response.results()) {
    const v1::BalanceItem& item = result.balance();
    std::string error;
    if (item.has_error()) {
      error = DescribeError(item.error());
    }
    table.AddRow({
        item.account_id().empty() ? "-" : item.account_id(),
        item.asset_id().empty() ? "-" : item.asset_id(),
        item.has_amount() ? FormatAmount(item.amount()) : "-",
        item.has_block_number() ? absl::StrCat(item.block_number()) : "-",
        error,
    });
  }
  return table.Render();
}

absl::Status RunQuery(CommandContext& ctx) {
  ASSIGN_OR_RETURN(const QuerySpec spec, ParseSpec(ctx));
  ASSIGN_OR_RETURN(v1::QueryBalancesResponse response, Query(ctx, spec));
  SortResults(spec, &response);
  ctx.out << (ctx.output == OutputFormat::kJson ? ToJson(response) : ResultsTable(response));
  for (const v1::BalanceResult& result : response.results()) {
    if (result.balance().has_error()) ctx.exit_code = 1;
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> QueryCommands() {
  return {{
      .words = {"query"},
      .arguments = "ACCOUNT... | - | --file FILE",
      .summary = "read balances now through the fetcher, without storing them",
      .details = R"(Asks the fetcher (StreamBalances) for the balances of the accounts and prints
one row per (account, asset): ACCOUNT, ASSET, BALANCE (exact, decimals
applied), BLOCK and ERROR. Nothing is stored. With --output json: one
QueryBalancesResponse (fetcher.proto) holding every item, in account order.

Accounts are CAIP-10 ids (eip155:1:0xAb...), or bare addresses with --chain.
Without --asset each account's chain's native asset and configured tokens are
read. A list longer than --query_batch is split into several requests, all
read at one block per chain (resolved once first); a request the fetcher finds
too large is split further. A progress bar shows on a terminal.

An item that could not be read (an invalid address, an unconfigured chain, an
upstream failing) is a row with its error, never a zero. Exit status: 0 when
every item was read, 1 when any item failed (all rows still print) or the
fetcher could not answer at all, 2 for a usage error.

Examples:
  cofferctl query eip155:1:0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045
  cofferctl query --chain eip155:1 --asset eip155:1/slip44:60 --block 21000000 0xd8dA6BF2...
  cut -f1 accounts.tsv | cofferctl query --output json -)",
      .flags = {"asset", "chain", "block", "force", "file", "query_batch"},
      .run = RunQuery,
  }};
}

}  // namespace coffer::cofferctl
