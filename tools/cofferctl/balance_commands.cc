#include "tools/cofferctl/balance_commands.h"

#include <algorithm>
#include <ostream>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "common/chain/amount.h"
#include "common/config/proto_timestamp.h"
#include "common/status/status_macros.h"
#include "tools/cofferctl/flags.h"
#include "tools/cofferctl/output.h"

namespace coffer::cofferctl {
namespace {

using client::Service;
using v1::Storage;

// The largest page each method allows: fewer round trips for a whole listing.
constexpr int32_t kLatestBalancesPage = 1000;
constexpr int32_t kHistoryPage = 10000;

std::string FormatBlock(bool has_block, uint64_t block) {
  return has_block ? absl::StrCat(block) : "-";
}

chain::DecimalAmount Decimal(const v1::Amount& amount) {
  return {amount.units(), amount.decimals()};
}

absl::Status NoArguments(const CommandContext& ctx, absl::string_view command) {
  if (ctx.args.empty()) return absl::OkStatus();
  return UsageError(
      absl::StrCat(command, " takes no arguments (got \"", ctx.args[0], "\"); filter with flags"));
}

// --since/--until as absl::Time, a usage error naming the flag when one is
// not a time. An empty flag is `fallback`.
absl::StatusOr<absl::Time> TimeFlag(absl::string_view name, const std::string& value,
                                    absl::Time fallback, absl::Time now) {
  if (value.empty()) return fallback;
  absl::StatusOr<absl::Time> time = ParseTimeArgument(value, now);
  if (!time.ok()) return UsageError(absl::StrCat("--", name, ": ", time.status().message()));
  return *time;
}

// ---------------------------------------------------------------------------
// balances

std::string BalanceNote(const v1::LatestBalance& balance) {
  if (!balance.has_error()) return "";
  if (!balance.has_amount()) {
    return absl::StrCat("never read: ", DescribeError(balance.error()));
  }
  return absl::StrCat("stale: reading of ", FormatTime(balance.last_attempt_at()),
                      " failed: ", DescribeError(balance.error()));
}

absl::Status RunBalances(CommandContext& ctx) {
  RETURN_IF_ERROR(NoArguments(ctx, "balances"));
  v1::GetLatestBalancesRequest request;
  for (const std::string& id : absl::GetFlag(FLAGS_account)) request.add_account_ids(id);
  for (const std::string& id : absl::GetFlag(FLAGS_asset)) request.add_asset_ids(id);
  request.set_chain_id(absl::GetFlag(FLAGS_chain));
  for (const std::string& tag : absl::GetFlag(FLAGS_tag)) request.add_tags(tag);
  request.mutable_page()->set_page_size(kLatestBalancesPage);

  v1::GetLatestBalancesResponse all;
  while (true) {
    absl::StatusOr<v1::GetLatestBalancesResponse> page = ctx.coffer.storage().CallBlocking(
        &Storage::Stub::PrepareAsyncGetLatestBalances, request, ctx.coffer.options());
    if (!page.ok()) return ctx.coffer.Annotate(Service::kStorage, page.status());
    for (v1::LatestBalance& balance : *page->mutable_balances()) {
      *all.add_balances() = std::move(balance);
    }
    if (page->page().next_page_token().empty()) break;
    request.mutable_page()->set_page_token(page->page().next_page_token());
  }

  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(all);
    return absl::OkStatus();
  }
  int failed = 0;
  for (const v1::LatestBalance& balance : all.balances()) failed += balance.has_error() ? 1 : 0;
  std::vector<Column> columns = {"ACCOUNT", "ASSET", {"BALANCE", Align::kRight}, "AS OF", "BLOCK"};
  // The column appears only when a reading failed, so the usual table
  // stays narrow.
  if (failed > 0) columns.push_back("NOTE");
  Table table(std::move(columns));
  for (const v1::LatestBalance& balance : all.balances()) {
    table.AddRow(
        {balance.account_id(), balance.asset_id(),
         balance.has_amount() ? FormatAmount(balance.amount()) : "-", FormatTime(balance.as_of()),
         FormatBlock(balance.has_block_number(), balance.block_number()), BalanceNote(balance)});
  }
  ctx.out << table.Render();
  if (all.balances().empty()) {
    ctx.err << "no balances stored: register accounts (cofferctl accounts add) and refresh them "
               "(cofferctl tasks trigger)\n";
  } else if (failed > 0) {
    ctx.err << failed << " of " << all.balances_size()
            << " balances could not be read at the latest refresh; the last known amount is "
               "shown\n";
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// portfolio

std::string PortfolioNote(const v1::PortfolioAsset& asset, const std::string& quote) {
  std::vector<std::string> notes;
  if (!quote.empty() && !asset.has_value()) {
    notes.push_back(absl::StrCat("no ", quote, " price: not in the total"));
  }
  if (asset.stale_accounts() > 0) {
    notes.push_back(absl::StrCat(asset.stale_accounts(), " of ", asset.accounts(),
                                 " accounts stale (last known amount counted, oldest ",
                                 FormatTime(asset.oldest_as_of()), ")"));
  }
  if (asset.unknown_accounts() > 0) {
    notes.push_back(absl::StrCat(asset.unknown_accounts(), " accounts never read: not counted"));
  }
  return absl::StrJoin(notes, "; ");
}

absl::Status RunPortfolio(CommandContext& ctx) {
  RETURN_IF_ERROR(NoArguments(ctx, "portfolio"));
  v1::GetPortfolioRequest request;
  request.set_quote_currency(absl::GetFlag(FLAGS_quote));
  request.set_chain_id(absl::GetFlag(FLAGS_chain));
  for (const std::string& tag : absl::GetFlag(FLAGS_tag)) request.add_tags(tag);
  for (const std::string& id : absl::GetFlag(FLAGS_account)) request.add_account_ids(id);
  absl::StatusOr<v1::GetPortfolioResponse> portfolio = ctx.coffer.storage().CallBlocking(
      &Storage::Stub::PrepareAsyncGetPortfolio, request, ctx.coffer.options());
  if (!portfolio.ok()) return ctx.coffer.Annotate(Service::kStorage, portfolio.status());
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(*portfolio);
    return absl::OkStatus();
  }

  const std::string& quote = portfolio->quote_currency();
  std::vector<std::pair<std::vector<std::string>, std::string>> rows;
  bool any_note = false;
  for (const v1::PortfolioAsset& asset : portfolio->assets()) {
    const bool priced = asset.has_value();
    std::string note = PortfolioNote(asset, quote);
    any_note = any_note || !note.empty();
    rows.push_back({{asset.asset_id(), FormatAmount(asset.amount()),
                     priced ? FormatAmount(asset.price().price()) : "-",
                     priced ? FormatAmount(asset.value()) : "-",
                     priced ? SharePercent(asset.value(), portfolio->total_value()) : "-"},
                    std::move(note)});
  }
  std::vector<Column> columns = {"ASSET",
                                 {"AMOUNT", Align::kRight},
                                 {"PRICE", Align::kRight},
                                 {"VALUE", Align::kRight},
                                 {"SHARE", Align::kRight}};
  if (any_note) columns.push_back("NOTE");
  Table table(std::move(columns));
  for (auto& [cells, note] : rows) {
    cells.push_back(std::move(note));
    table.AddRow(std::move(cells));
  }
  const std::string total_label = quote.empty()
                                      ? std::string("TOTAL")
                                      : absl::StrCat("TOTAL (", absl::AsciiStrToUpper(quote), ")");
  table.AddRow({total_label, "", "",
                portfolio->has_total_value() ? FormatAmount(portfolio->total_value()) : "-", ""});
  ctx.out << table.Render();

  if (portfolio->assets().empty()) {
    ctx.err << "no holdings: register accounts (cofferctl accounts add) and refresh them\n";
  }
  if (!quote.empty() && portfolio->unpriced_assets() > 0) {
    ctx.err << portfolio->unpriced_assets() << " held asset(s) have no " << quote
            << " price and are not in the total (refresh prices: cofferctl tasks trigger)\n";
  }
  if (portfolio->stale_items() > 0 || portfolio->unknown_items() > 0) {
    ctx.err << "possibly stale: " << portfolio->stale_items()
            << " balance(s) counted at their last known amount, " << portfolio->unknown_items()
            << " never read; see cofferctl balances\n";
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// history

// The one value of a list flag (--account, --asset) that history takes.
absl::StatusOr<std::string> SingleValue(absl::string_view name,
                                        const std::vector<std::string>& values) {
  if (values.size() > 1) {
    return UsageError(absl::StrCat("history takes one --", name, ", not ", values.size()));
  }
  return values.empty() ? std::string() : values[0];
}

absl::Status RunHistory(CommandContext& ctx) {
  RETURN_IF_ERROR(NoArguments(ctx, "history"));
  ASSIGN_OR_RETURN(const std::string account, SingleValue("account", absl::GetFlag(FLAGS_account)));
  ASSIGN_OR_RETURN(const std::string asset, SingleValue("asset", absl::GetFlag(FLAGS_asset)));
  if (account.empty() && asset.empty()) return UsageError("history needs --account or --asset");
  const absl::Time now = absl::Now();
  ASSIGN_OR_RETURN(const absl::Time since,
                   TimeFlag("since", absl::GetFlag(FLAGS_since), now - absl::Hours(24 * 30), now));
  ASSIGN_OR_RETURN(const absl::Time until,
                   TimeFlag("until", absl::GetFlag(FLAGS_until), absl::InfiniteFuture(), now));
  if (until <= since) return UsageError("--until must be after --since");
  const int32_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) return UsageError("--limit must not be negative");

  v1::GetBalanceHistoryRequest request;
  request.set_account_id(account);
  request.set_asset_id(asset);
  *request.mutable_start_time() = config::TimeToProto(since);
  if (until != absl::InfiniteFuture()) *request.mutable_end_time() = config::TimeToProto(until);
  // With a limit the newest points are the ones wanted: read newest first,
  // stop at the limit, then put them back in time order.
  request.set_newest_first(limit > 0);
  request.mutable_page()->set_page_size(limit > 0 ? std::min(limit, kHistoryPage) : kHistoryPage);

  v1::GetBalanceHistoryResponse all;
  while (limit == 0 || all.points_size() < limit) {
    absl::StatusOr<v1::GetBalanceHistoryResponse> page = ctx.coffer.storage().CallBlocking(
        &Storage::Stub::PrepareAsyncGetBalanceHistory, request, ctx.coffer.options());
    if (!page.ok()) return ctx.coffer.Annotate(Service::kStorage, page.status());
    for (v1::BalancePoint& point : *page->mutable_points()) {
      if (limit > 0 && all.points_size() >= limit) break;
      *all.add_points() = std::move(point);
    }
    if (page->page().next_page_token().empty()) break;
    request.mutable_page()->set_page_token(page->page().next_page_token());
  }
  if (limit > 0) std::reverse(all.mutable_points()->begin(), all.mutable_points()->end());

  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(all);
    return absl::OkStatus();
  }
  bool any_error = false;
  for (const v1::BalancePoint& point : all.points()) any_error = any_error || point.has_error();
  std::vector<Column> columns = {"TIME", "ACCOUNT", "ASSET", {"BALANCE", Align::kRight}, "BLOCK"};
  if (any_error) columns.push_back("ERROR");
  Table table(std::move(columns));
  for (const v1::BalancePoint& point : all.points()) {
    table.AddRow({FormatTime(point.taken_at()), point.account_id(), point.asset_id(),
                  point.has_amount() ? FormatAmount(point.amount()) : "-",
                  FormatBlock(point.has_block_number(), point.block_number()),
                  point.has_error() ? DescribeError(point.error()) : ""});
  }
  ctx.out << table.Render();
  if (all.points().empty()) {
    ctx.err << "no balances stored for " << (account.empty() ? asset : account) << " since "
            << FormatAbslTime(since) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::string SharePercent(const v1::Amount& part, const v1::Amount& total) {
  const chain::DecimalAmount numerator = Decimal(part);
  const chain::DecimalAmount denominator = Decimal(total);
  const chain::DecimalAmount zero = {"0", 0};
  for (const chain::DecimalAmount* amount : {&numerator, &denominator}) {
    if (!chain::ValidateUnits(amount->units, chain::kMaxArithmeticDigits).ok() ||
        !chain::ValidateDecimals(amount->decimals).ok()) {
      return "?";
    }
  }
  if (chain::CompareAmounts(denominator, zero) == 0) return "-";
  // A part above the total is a bug of whoever summed: shown, not hidden.
  if (chain::CompareAmounts(numerator, denominator) > 0) return ">100%";
  // Tenths of a percent, rounded half up: the largest q in [0, 1000] with
  // total x (2q - 1) <= part x 2000. Exact products (max_decimals at the
  // limit keeps every digit of a factor with 0 decimals), found by bisection.
  absl::StatusOr<chain::DecimalAmount> scaled_part =
      chain::MultiplyAmounts(numerator, {"2000", 0}, chain::kMaxDecimals);
  if (!scaled_part.ok()) return "?";
  int low = 0;  // satisfies the condition by definition
  int high = 1000;
  while (low < high) {
    const int mid = (low + high + 1) / 2;
    absl::StatusOr<chain::DecimalAmount> bound =
        chain::MultiplyAmounts(denominator, {absl::StrCat(2 * mid - 1), 0}, chain::kMaxDecimals);
    if (!bound.ok()) return "?";
    if (chain::CompareAmounts(*bound, *scaled_part) <= 0) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  if (low == 0 && chain::CompareAmounts(numerator, zero) > 0) return "<0.1%";
  return absl::StrFormat("%d.%d%%", low / 10, low % 10);
}

std::vector<Command> BalanceCommands() {
  return {
      {
          .words = {"balances"},
          .arguments = "",
          .summary = "latest balance of each account and asset, from storage",
          .details =
              "One row per (account, asset): the amount of the latest refresh, exact, with the\n"
              "time and block it was read at. Where the latest reading failed, the last known\n"
              "amount is shown with a NOTE saying it is stale and why the reading failed.\n"
              "Filters combine with AND. --output json prints one GetLatestBalancesResponse\n"
              "with every balance.\n"
              "\n"
              "  cofferctl balances\n"
              "  cofferctl balances --chain eip155:1 --tag cold\n"
              "  cofferctl balances --asset eip155:1/slip44:60 --output json",
          .flags = {"account", "asset", "chain", "tag"},
          .run = RunBalances,
      },
      {
          .words = {"portfolio"},
          .arguments = "",
          .summary = "totals per asset with their value and share, from storage",
          .details =
              "Sums the latest balances per asset and values them at the latest stored price in\n"
              "--quote: AMOUNT, PRICE, VALUE and SHARE of the total value, then a TOTAL line.\n"
              "Amounts and values are exact. Assets without a stored price show \"-\" and are not\n"
              "in the total; balances whose latest reading failed count at their last known\n"
              "amount and are noted. An empty --quote gives the totals alone. --output json\n"
              "prints the GetPortfolioResponse.\n"
              "\n"
              "  cofferctl portfolio\n"
              "  cofferctl portfolio --quote eur --chain eip155:1",
          .flags = {"quote", "chain", "tag", "account"},
          .run = RunPortfolio,
      },
      {
          .words = {"history"},
          .arguments = "",
          .summary = "balances of one account or asset over time, from storage",
          .details =
              "One row per refresh (snapshot) in [--since, --until), oldest first: for\n"
              "--account each of its assets, for --asset every account holding it (both: that\n"
              "pair). --since defaults to 30d; --limit N keeps the newest N points (0: all).\n"
              "A reading that failed shows \"-\" and its ERROR. --output json prints one\n"
              "GetBalanceHistoryResponse with every point.\n"
              "\n"
              "  cofferctl history --account eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B\n"
              "  cofferctl history --asset eip155:1/slip44:60 --since 2026-11-01 --until 7d",
          .flags = {"account", "asset", "since", "until", "limit"},
          .run = RunHistory,
      },
  };
}

}  // namespace coffer::cofferctl
