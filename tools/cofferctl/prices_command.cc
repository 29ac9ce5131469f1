#include "tools/cofferctl/prices_command.h"

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "coffer/v1/storage.grpc.pb.h"
#include "common/config/proto_timestamp.h"
#include "common/status/status_macros.h"
#include "tools/cofferctl/flags.h"
#include "tools/cofferctl/output.h"

namespace coffer::cofferctl {
namespace {

using client::Service;
using v1::Storage;

// GetPriceHistory's largest page.
constexpr int32_t kPriceHistoryPage = 10000;

// --since/--until as absl::Time, a usage error naming the flag when one is
// not a time.
absl::StatusOr<absl::Time> TimeFlag(absl::string_view name, const std::string& value,
                                    absl::Time now) {
  absl::StatusOr<absl::Time> time = ParseTimeArgument(value, now);
  if (!time.ok()) return UsageError(absl::StrCat("--", name, ": ", time.status().message()));
  return *time;
}

void AddPriceRow(Table& table, const v1::Price& price) {
  table.AddRow({price.asset_id(), price.quote_currency(), FormatAmount(price.price()),
                FormatTime(price.price_time()), price.source().empty() ? "-" : price.source()});
}

Table PriceTable() { return Table({"ASSET", "QUOTE", {"PRICE", Align::kRight}, "TIME", "SOURCE"}); }

absl::StatusOr<v1::GetLatestPricesResponse> LatestPrices(CommandContext& ctx,
                                                         const std::vector<std::string>& assets,
                                                         const std::string& quote) {
  v1::GetLatestPricesRequest request;
  for (const std::string& id : assets) request.add_asset_ids(id);
  request.set_quote_currency(quote);
  absl::StatusOr<v1::GetLatestPricesResponse> latest = ctx.coffer.storage().CallBlocking(
      &Storage::Stub::PrepareAsyncGetLatestPrices, request, ctx.coffer.options());
  if (!latest.ok()) return ctx.coffer.Annotate(Service::kStorage, latest.status());
  return latest;
}

absl::Status RunLatest(CommandContext& ctx, const std::vector<std::string>& assets,
                       const std::string& quote) {
  ASSIGN_OR_RETURN(const v1::GetLatestPricesResponse latest, LatestPrices(ctx, assets, quote));
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(latest);
    return absl::OkStatus();
  }
  Table table = PriceTable();
  for (const v1::LatestPrice& price : latest.prices()) AddPriceRow(table, price.price());
  ctx.out << table.Render();
  if (latest.prices().empty()) {
    ctx.err << "no prices stored" << (quote.empty() ? "" : " in " + quote)
            << ": refresh prices (cofferctl tasks trigger) once balances are stored\n";
  }
  return absl::OkStatus();
}

// Every price of the assets in [since, until), asset by asset, each oldest
// first, in one GetPriceHistoryResponse.
absl::Status RunHistory(CommandContext& ctx, std::vector<std::string> assets,
                        const std::string& quote, absl::Time since,
                        std::optional<absl::Time> until) {
  if (assets.empty()) {
    // No --asset: the history of every asset that has a price in `quote`.
    ASSIGN_OR_RETURN(const v1::GetLatestPricesResponse latest, LatestPrices(ctx, {}, quote));
    for (const v1::LatestPrice& price : latest.prices()) {
      assets.push_back(price.price().asset_id());
    }
  }
  v1::GetPriceHistoryResponse all;
  for (const std::string& asset : assets) {
    v1::GetPriceHistoryRequest request;
    request.set_asset_id(asset);
    request.set_quote_currency(quote);
    *request.mutable_start_time() = config::TimeToProto(since);
    if (until.has_value()) *request.mutable_end_time() = config::TimeToProto(*until);
    request.mutable_page()->set_page_size(kPriceHistoryPage);
    while (true) {
      absl::StatusOr<v1::GetPriceHistoryResponse> page = ctx.coffer.storage().CallBlocking(
          &Storage::Stub::PrepareAsyncGetPriceHistory, request, ctx.coffer.options());
      if (!page.ok()) return ctx.coffer.Annotate(Service::kStorage, page.status());
      for (v1::Price& price : *page->mutable_prices()) *all.add_prices() = std::move(price);
      if (page->page().next_page_token().empty()) break;
      request.mutable_page()->set_page_token(page->page().next_page_token());
    }
  }
  if (ctx.output == OutputFormat::kJson) {
    ctx.out << ToJson(all);
    return absl::OkStatus();
  }
  Table table = PriceTable();
  for (const v1::Price& price : all.prices()) AddPriceRow(table, price);
  ctx.out << table.Render();
  if (all.prices().empty()) {
    ctx.err << "no " << quote << " prices stored since " << FormatAbslTime(since) << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunPrices(CommandContext& ctx) {
  if (!ctx.args.empty()) {
    return UsageError(absl::StrCat("prices takes no arguments (got \"", ctx.args[0],
                                   "\"); name assets with --asset"));
  }
  const std::vector<std::string> assets = absl::GetFlag(FLAGS_asset);
  const std::string quote = absl::GetFlag(FLAGS_quote);
  const std::string since_flag = absl::GetFlag(FLAGS_since);
  const std::string until_flag = absl::GetFlag(FLAGS_until);
  if (since_flag.empty()) {
    if (!until_flag.empty()) return UsageError("--until needs --since (price history)");
    return RunLatest(ctx, assets, quote);
  }
  if (quote.empty()) return UsageError("price history needs a --quote");
  const absl::Time now = absl::Now();
  ASSIGN_OR_RETURN(const absl::Time since, TimeFlag("since", since_flag, now));
  std::optional<absl::Time> until;
  if (!until_flag.empty()) {
    ASSIGN_OR_RETURN(until, TimeFlag("until", until_flag, now));
    if (*until <= since) return UsageError("--until must be after --since");
  }
  return RunHistory(ctx, assets, quote, since, until);
}

}  // namespace

std::vector<Command> PricesCommands() {
  return {{
      .words = {"prices"},
      .arguments = "",
      .summary = "latest prices, or with --since their history, from storage",
      .details =
          "Without --since: the latest stored price of each asset in --quote (an empty\n"
          "--quote: in every quote currency), one GetLatestPricesResponse with --output json.\n"
          "With --since: every stored price in [--since, --until) of the --asset ids (none:\n"
          "every asset priced in --quote), oldest first, one GetPriceHistoryResponse with\n"
          "--output json. Prices are exact, per whole unit of the asset.\n"
          "\n"
          "  cofferctl prices\n"
          "  cofferctl prices --asset eip155:1/slip44:60 --since 7d\n"
          "  cofferctl prices --quote eur --since 2026-11-01 --until 2026-11-08",
      .flags = {"asset", "quote", "since", "until"},
      .run = RunPrices,
  }};
}

}  // namespace coffer::cofferctl
