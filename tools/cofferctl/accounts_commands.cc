#include "tools/cofferctl/accounts_commands.h"

#include <algorithm>
#include <iostream>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "tools/cofferctl/flags.h"
#include "tools/cofferctl/ids.h"
#include "tools/cofferctl/inputs.h"
#include "tools/cofferctl/output.h"
#include "tools/cofferctl/progress_bar.h"

ABSL_FLAG(std::string, label, "", "Label of the accounts, for people (at most 100 bytes)");
ABSL_FLAG(bool, delete_history, false,
          "Also delete the accounts' stored balances (by default history stays queryable)");

namespace coffer::cofferctl {
namespace {

using client::Service;
using v1::Storage;

// The API's limit of ids per AddAccounts / RemoveAccounts call.
constexpr size_t kMaxPerCall = 10000;
// Storage accepts messages up to 64 MiB; accounts carrying long asset lists
// are sent in smaller calls so that a call stays well below that.
constexpr size_t kMaxRequestBytes = 16 << 20;
// Accounts per ListAccounts page: 10x the server's default, so a large
// listing takes few round trips, while a page of accounts with 100 assets
// each (~6 MB) stays below the channel's message limit.
constexpr int32_t kListPageSize = 1000;
// Failed items named in the one-line error; the table or JSON has them all.
constexpr size_t kNamedFailures = 3;

absl::Status StorageError(CommandContext& ctx, const absl::Status& status) {
  return ctx.coffer.Annotate(Service::kStorage, status);
}

// A call that failed after earlier calls of the same command were applied:
// say how far the input got, so that a retry can be judged (both writes
// are idempotent, so rerunning the whole command is always safe).
absl::Status BatchError(CommandContext& ctx, const absl::Status& status, size_t done, size_t total,
                        absl::string_view what) {
  absl::Status annotated = StorageError(ctx, status);
  if (done == 0) return annotated;
  return absl::Status(
      annotated.code(),
      absl::StrCat(annotated.message(), "; the first ", done, " of ", total, " accounts were ",
                   what, " by earlier calls (rerunning the command is safe)"));
}

// "1 of 3 accounts not added: eip155:1:0x12: bad address (...)", with the
// first failed item's code (an Error code casts to a status code).
absl::Status FailureStatus(const std::vector<std::pair<std::string, v1::Error>>& failures,
                           size_t total, absl::string_view verb) {
  std::vector<std::string> named;
  for (size_t i = 0; i < failures.size() && i < kNamedFailures; ++i) {
    const std::string& id = failures[i].first;
    const std::string& error = failures[i].second.message();
    // Storage's messages usually name the item already.
    named.push_back(absl::StrContains(error, id) ? error : absl::StrCat(id, ": ", error));
  }
  std::string message = absl::StrCat(failures.size(), " of ", total, " accounts not ", verb, ": ",
                                     absl::StrJoin(named, "; "));
  if (failures.size() > kNamedFailures) {
    absl::StrAppend(&message, "; and ", failures.size() - kNamedFailures, " more");
  }
  const v1::Error::Code code = failures.front().second.code();
  return absl::Status(code == v1::Error::CODE_UNSPECIFIED ? absl::StatusCode::kUnknown
                                                          : static_cast<absl::StatusCode>(code),
                      message);
}

// ---------------------------------------------------------------------------
// accounts add

// The accounts to register: ids completed with --chain, each with the
// label, tags and assets of the flags (assets completed with its chain).
absl::StatusOr<std::vector<v1::Account>> AccountsToAdd(const std::vector<std::string>& ids) {
  const std::string chain = absl::GetFlag(FLAGS_chain);
  if (absl::Status status = CheckChainFlag(chain); !status.ok()) return status;
  const std::string label = absl::GetFlag(FLAGS_label);
  const std::vector<std::string> tags = absl::GetFlag(FLAGS_tag);
  const std::vector<std::string> assets = absl::GetFlag(FLAGS_asset);
  std::vector<v1::Account> accounts;
  accounts.reserve(ids.size());
  for (const std::string& id : ids) {
    v1::Account& account = accounts.emplace_back();
    absl::StatusOr<std::string> account_id = CompleteAccountId(id, chain);
    if (!account_id.ok()) return account_id.status();
    account.set_account_id(*std::move(account_id));
    account.set_label(label);
    for (const std::string& tag : tags) account.add_tags(tag);
    for (const std::string& asset : assets) {
      // "slip44:60" means that asset on each account's own chain.
      account.add_asset_ids(absl::StrContains(asset, '/')
                                ? asset
                                : absl::StrCat(ChainOfAccount(account.account_id()), "/", asset));
    }
  }
  return accounts;
}

std::string AddResultCell(const v1::AccountResult& result) {
  switch (result.outcome()) {
    case v1::AccountResult::CREATED:
      return "added";
    case v1::AccountResult::UPDATED:
      return "updated";
    case v1::AccountResult::UNCHANGED:
      return "unchanged";
    case v1::AccountResult::FAILED:
      return absl::StrCat("error: ", result.error().message());
    default:
      return absl::StrCat("unknown outcome ", result.outcome());
  }
}

absl::Status RunAdd(CommandContext& ctx) {
  absl::StatusOr<std::vector<std::string>> ids =
      ReadIds(ctx.args, absl::GetFlag(FLAGS_file), std::cin);
  if (!ids.ok()) return ids.status();
  absl::StatusOr<std::vector<v1::Account>> accounts = AccountsToAdd(*ids);
  if (!accounts.ok()) return accounts.status();

  v1::AddAccountsResponse merged;
  ProgressBar bar(ctx.err, ctx.interactive, "adding accounts");
  const size_t total = accounts->size();
  size_t next = 0;
  while (next < total) {
    // Valid items are written even when others are not (all_or_nothing
    // false): each item's result is shown, and a rerun is idempotent.
    v1::AddAccountsRequest request;
    size_t bytes = 0;
    while (next < total && static_cast<size_t>(request.accounts_size()) < kMaxPerCall &&
           (request.accounts_size() == 0 || bytes < kMaxRequestBytes)) {
      bytes += (*accounts)[next].ByteSizeLong();
      *request.add_accounts() = std::move((*accounts)[next++]);
    }
    bar.Update(static_cast<int64_t>(next - request.accounts_size()), static_cast<int64_t>(total));
    auto response = ctx.coffer.storage().CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts,
                                                      request, ctx.coffer.options());
    if (!response.ok()) {
      bar.Finish();
      return BatchError(ctx, response.status(), next - request.accounts_size(), total,
                        "registered");
    }
    for (v1::AccountResult& result : *response->mutable_results()) {
      *merged.add_results() = std::move(result);
    }
  }
  bar.Update(static_cast<int64_t>(total), static_cast<int64_t>(total));
  bar.Finish();

  std::vector<std::pair<std::string, v1::Error>> failures;
  int counts[5] = {};
  Table table({"ACCOUNT", "RESULT"});
  for (const v1::AccountResult& result : merged.results()) {
    counts[std::clamp<int>(result.outcome(), 0, 4)]++;
    if (result.outcome() == v1::AccountResult::FAILED) {
      failures.emplace_back(result.account_id(), result.error());
    }
    // The stored, normalized id when there is one: the spelling to use in
    // later commands.
    table.AddRow({result.has_account() ? result.account().account_id() : result.account_id(),
                  AddResultCell(result)});
  }
  ctx.out << (ctx.output == OutputFormat::kJson ? ToJson(merged) : table.Render());
  ctx.err << merged.results_size() << " accounts: " << counts[v1::AccountResult::CREATED]
          << " added, " << counts[v1::AccountResult::UPDATED] << " updated, "
          << counts[v1::AccountResult::UNCHANGED] << " unchanged, " << failures.size()
          << " failed\n";
  if (!failures.empty()) return FailureStatus(failures, total, "added");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// accounts rm

std::string RemoveResultCell(const v1::RemovedAccount& result) {
  if (result.has_error()) return absl::StrCat("error: ", result.error().message());
  return result.removed() ? "removed" : "not registered";
}

absl::Status RunRemove(CommandContext& ctx) {
  absl::StatusOr<std::vector<std::string>> ids =
      ReadIds(ctx.args, absl::GetFlag(FLAGS_file), std::cin);
  if (!ids.ok()) return ids.status();
  const std::string chain = absl::GetFlag(FLAGS_chain);
  if (absl::Status status = CheckChainFlag(chain); !status.ok()) return status;
  if (absl::Status status = CompleteAccountIds(*ids, chain); !status.ok()) return status;

  v1::RemoveAccountsResponse merged;
  ProgressBar bar(ctx.err, ctx.interactive, "removing accounts");
  const size_t total = ids->size();
  for (size_t start = 0; start < total; start += kMaxPerCall) {
    v1::RemoveAccountsRequest request;
    request.set_delete_history(absl::GetFlag(FLAGS_delete_history));
    for (size_t i = start; i < std::min(total, start + kMaxPerCall); ++i) {
      request.add_account_ids((*ids)[i]);
    }
    bar.Update(static_cast<int64_t>(start), static_cast<int64_t>(total));
    auto response = ctx.coffer.storage().CallBlocking(&Storage::Stub::PrepareAsyncRemoveAccounts,
                                                      request, ctx.coffer.options());
    if (!response.ok()) {
      bar.Finish();
      return BatchError(ctx, response.status(), start, total, "removed");
    }
    for (v1::RemovedAccount& result : *response->mutable_results()) {
      *merged.add_results() = std::move(result);
    }
  }
  bar.Finish();

  std::vector<std::pair<std::string, v1::Error>> failures;
  size_t removed = 0;
  Table table({"ACCOUNT", "RESULT"});
  for (const v1::RemovedAccount& result : merged.results()) {
    if (result.has_error()) failures.emplace_back(result.account_id(), result.error());
    if (result.removed()) ++removed;
    table.AddRow({result.account_id(), RemoveResultCell(result)});
  }
  ctx.out << (ctx.output == OutputFormat::kJson ? ToJson(merged) : table.Render());
  // An id that was not registered is not an error (a retried rm succeeds).
  ctx.err << merged.results_size() << " accounts: " << removed << " removed, "
          << merged.results_size() - removed - failures.size() << " not registered, "
          << failures.size() << " failed"
          << (absl::GetFlag(FLAGS_delete_history) ? " (history deleted)" : "") << "\n";
  if (!failures.empty()) return FailureStatus(failures, total, "removed");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// accounts ls

// Whether `account` is read for `asset`: listed, or the account lists no
// assets (it then tracks every asset the fetcher has for its chain).
bool TracksAsset(const v1::Account& account, absl::string_view asset) {
  if (account.asset_ids().empty()) return ChainOfAsset(asset) == account.chain_id();
  // Case-insensitive: EVM token addresses are answered in EIP-55 case and
  // typed in any.
  return std::any_of(account.asset_ids().begin(), account.asset_ids().end(),
                     [&](const std::string& id) { return absl::EqualsIgnoreCase(id, asset); });
}

std::string AssetsCell(const v1::Account& account) {
  if (account.asset_ids().empty()) return "all";
  if (account.asset_ids_size() > 2) return absl::StrCat(account.asset_ids_size(), " assets");
  std::vector<absl::string_view> names;
  for (const std::string& id : account.asset_ids()) {
    // The chain is the account's: the asset part alone ("slip44:60").
    const size_t slash = id.find('/');
    names.push_back(slash == std::string::npos ? absl::string_view(id)
                                               : absl::string_view(id).substr(slash + 1));
  }
  return absl::StrJoin(names, ",");
}

absl::Status RunList(CommandContext& ctx) {
  if (!ctx.args.empty()) return UsageError("accounts ls takes no arguments (filters are flags)");
  const int32_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) return UsageError("--limit must be 0 (every account) or positive");
  std::string chain = absl::GetFlag(FLAGS_chain);
  if (absl::Status status = CheckChainFlag(chain); !status.ok()) return status;

  // ListAccounts filters by chain and tags; assets are filtered here, and
  // narrow the listing to their chain when --chain is not given.
  std::vector<std::string> assets = absl::GetFlag(FLAGS_asset);
  for (std::string& asset : assets) {
    absl::StatusOr<std::string> complete = CompleteAssetId(asset, chain);
    if (!complete.ok()) return complete.status();
    asset = *std::move(complete);
    if (chain.empty()) chain = std::string(ChainOfAsset(asset));
    if (ChainOfAsset(asset) != chain) {
      return UsageError(
          absl::StrCat("--asset ", asset, " is not on chain ", chain, ": no account could match"));
    }
  }

  v1::ListAccountsRequest request;
  request.set_chain_id(chain);
  for (const std::string& tag : absl::GetFlag(FLAGS_tag)) request.add_tags(tag);
  request.set_view(v1::ACCOUNT_VIEW_FULL);

  v1::ListAccountsResponse all;
  // Present and empty in the JSON: this document holds every page.
  all.mutable_page();
  ProgressBar bar(ctx.err, ctx.interactive, "listing accounts");
  bool more = false;
  while (true) {
    int32_t page_size = kListPageSize;
    // Without a filter of our own, ask for no more than --limit still wants.
    if (limit > 0 && assets.empty()) page_size = std::min(page_size, limit - all.accounts_size());
    request.mutable_page()->set_page_size(page_size);
    auto page = ctx.coffer.storage().CallBlocking(&Storage::Stub::PrepareAsyncListAccounts, request,
                                                  ctx.coffer.options());
    if (!page.ok()) {
      bar.Finish();
      return StorageError(ctx, page.status());
    }
    for (v1::Account& account : *page->mutable_accounts()) {
      if (limit > 0 && all.accounts_size() >= limit) {
        more = true;
        break;
      }
      if (std::all_of(assets.begin(), assets.end(),
                      [&](const std::string& asset) { return TracksAsset(account, asset); })) {
        *all.add_accounts() = std::move(account);
      }
    }
    bar.Update(all.accounts_size(), 0);
    const std::string& token = page->page().next_page_token();
    if (token.empty()) break;
    if (limit > 0 && all.accounts_size() >= limit) {
      more = true;
      break;
    }
    request.mutable_page()->set_page_token(token);
  }
  bar.Finish();

  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(all);
  } else {
    Table table({"ACCOUNT", "CHAIN", "LABEL", "TAGS", "ASSETS", "CREATED"});
    for (const v1::Account& account : all.accounts()) {
      table.AddRow({account.account_id(), account.chain_id(),
                    account.label().empty() ? "-" : account.label(),
                    account.tags().empty() ? "-" : absl::StrJoin(account.tags(), ","),
                    AssetsCell(account), FormatTime(account.created_at())});
    }
    ctx.out << table.Render();
  }
  if (more) ctx.err << "the first " << limit << " accounts shown; more may match (raise --limit)\n";
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> AccountsCommands() {
  return {
      {
          .words = {"accounts", "add"},
          .arguments = "ID... | - | --file FILE",
          .summary = "register accounts to track (Storage.AddAccounts)",
          .details =
              "IDs are CAIP-10 account ids (eip155:1:0xAb58...); with --chain, an entry\n"
              "without a chain (0xAb58..., a bitcoin address) is taken on that chain, an\n"
              "entry with one keeps it. '-' reads the ids from stdin; ids may be separated\n"
              "by newlines, spaces or commas, '#' starts a comment. Adding is idempotent:\n"
              "an account that exists takes the label, tags and assets given.\n"
              "--asset limits the assets read (CAIP-19; slip44:60 means that asset on each\n"
              "account's chain); without it every asset configured for the chain is read.\n"
              "Inputs over 10,000 ids are sent in calls of 10,000. Prints each account with\n"
              "its result (added, updated, unchanged, error: ...); ids the API rejects are\n"
              "named on stderr and make the exit status 1, the others are still added.\n"
              "JSON: the AddAccountsResponse of all calls.\n\n"
              "Example:\n"
              "  cofferctl accounts add --chain eip155:1 --label cold --tag team,eth \\\n"
              "      0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B\n"
              "  cut -d, -f1 wallets.csv | cofferctl accounts add --chain eip155:1 -",
          .flags = {"label", "tag", "asset", "chain", "file"},
          .run = RunAdd,
      },
      {
          .words = {"accounts", "rm"},
          .arguments = "ID... | - | --file FILE",
          .summary = "unregister accounts (Storage.RemoveAccounts)",
          .details =
              "Prints each id with its result: removed, not registered (not an error: a\n"
              "retried rm succeeds) or error (an invalid id; exit status 1). Balance history\n"
              "stays queryable unless --delete_history. --chain completes bare addresses as\n"
              "in accounts add. JSON: the RemoveAccountsResponse.\n\n"
              "Example:\n"
              "  cofferctl accounts rm eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B",
          .flags = {"delete_history", "chain", "file"},
          .run = RunRemove,
      },
      {
          .words = {"accounts", "ls"},
          .arguments = "",
          .summary = "list the registered accounts (Storage.ListAccounts)",
          .details =
              "Every page, ordered by account id, as ACCOUNT CHAIN LABEL TAGS ASSETS CREATED\n"
              "(ASSETS: \"all\" when the account reads every asset of its chain). Filters\n"
              "combine: --chain, --tag (accounts having every tag given), --asset (accounts\n"
              "reading that asset, including those reading every asset of its chain).\n"
              "--limit N stops after N accounts. JSON: one ListAccountsResponse holding\n"
              "every account, next_page_token empty.\n\n"
              "Example:\n"
              "  cofferctl accounts ls --chain eip155:1 --tag team\n"
              "  cofferctl accounts ls --output json | jq -r '.accounts[].account_id'",
          .flags = {"chain", "tag", "asset", "limit"},
          .run = RunList,
      },
  };
}

}  // namespace coffer::cofferctl
