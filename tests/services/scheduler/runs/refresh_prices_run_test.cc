#include "services/scheduler/runs/refresh_prices_run.h"

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "tests/services/scheduler/runs/unexpected_backends.h"

namespace coffer::scheduler {
namespace {

constexpr char kEth[] = "eip155:1/slip44:60";
constexpr char kUsdc[] = "eip155:1/erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
constexpr char kBtc[] = "bip122:000000000019d6689c085ae165831e93/slip44:0";

// Storage holding `held`, answering at once; records the price writes.
class FakeStorage : public UnexpectedRunStorage {
 public:
  void GetPortfolio(const v1::GetPortfolioRequest& request,
                    Answer<v1::GetPortfolioResponse> done) override {
    EXPECT_TRUE(request.quote_currency().empty());
    if (!portfolio_status.ok()) return std::move(done)(portfolio_status);
    v1::GetPortfolioResponse reply;
    for (const std::string& asset : held) reply.add_assets()->set_asset_id(asset);
    std::move(done)(reply);
  }
  void WritePrices(const v1::WritePricesRequest& request,
                   Answer<v1::WritePricesResponse> done) override {
    writes.push_back(request);
    v1::WritePricesResponse reply;
    reply.set_written(request.prices_size());
    std::move(done)(reply);
  }

  std::vector<std::string> held;
  absl::Status portfolio_status;
  std::vector<v1::WritePricesRequest> writes;
};

// Prices every asset at 2 in any quote, except those in `unmapped`; calls
// wait until the test answers them.
class FakeFetcher : public UnexpectedRunFetcher {
 public:
  CancelCall QueryPrices(const v1::QueryPricesRequest& request,
                         Answer<v1::QueryPricesResponse> done) override {
    requests.push_back(request);
    pending.emplace_back(request, std::move(done));
    max_in_flight = std::max(max_in_flight, pending.size());
    return {};
  }
  void AnswerAll() {
    while (!pending.empty()) {
      auto [request, done] = std::move(pending.front());
      pending.pop_front();
      v1::QueryPricesResponse reply;
      for (const std::string& asset : request.asset_ids()) {
        v1::PriceResult* result = reply.add_results();
        result->set_asset_id(asset);
        if (absl::c_linear_search(unmapped, asset)) {
          result->mutable_error()->set_code(v1::Error::NOT_FOUND);
          result->mutable_error()->set_upstream("coingecko");
          result->mutable_error()->set_message("no price mapping");
          continue;
        }
        result->mutable_price()->set_asset_id(asset);
        result->mutable_price()->set_quote_currency(request.quote_currency());
        result->mutable_price()->mutable_price()->set_units("2");
      }
      std::move(done)(reply);
    }
  }

  std::vector<std::string> unmapped;
  std::vector<v1::QueryPricesRequest> requests;
  std::deque<std::pair<v1::QueryPricesRequest, Answer<v1::QueryPricesResponse>>> pending;
  size_t max_in_flight = 0;
};

class RefreshPricesRunTest : public ::testing::Test {
 protected:
  std::shared_ptr<RefreshPricesRun> Start() {
    options_.fence.set_epoch(9);
    return RefreshPricesRun::Start(&storage_, &fetcher_, options_, nullptr,
                                   [this](RunOutcome outcome) {
                                     EXPECT_FALSE(outcome_.has_value()) << "done twice";
                                     outcome_ = std::move(outcome);
                                   });
  }

  FakeStorage storage_;
  FakeFetcher fetcher_;
  RefreshPricesRunOptions options_;
  std::optional<RunOutcome> outcome_;
};

TEST_F(RefreshPricesRunTest, PricesTheHeldAssetsAndTheExtraOnesInEveryQuote) {
  storage_.held = {kEth, kUsdc};
  options_.params.add_extra_asset_ids(kBtc);
  options_.params.add_extra_asset_ids(kEth);  // held anyway: once
  options_.params.add_quote_currencies("usd");
  options_.params.add_quote_currencies("eur");
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome_->counts.items_total(), 6u);
  EXPECT_EQ(outcome_->counts.items_succeeded(), 6u);
  ASSERT_EQ(fetcher_.requests.size(), 2u);
  EXPECT_EQ(fetcher_.requests[0].quote_currency(), "usd");
  EXPECT_EQ(fetcher_.requests[0].asset_ids_size(), 3);
  EXPECT_EQ(fetcher_.requests[1].quote_currency(), "eur");
  ASSERT_EQ(storage_.writes.size(), 1u);
  EXPECT_EQ(storage_.writes[0].prices_size(), 6);
  EXPECT_EQ(storage_.writes[0].fence().epoch(), 9u);
}

TEST_F(RefreshPricesRunTest, UnpricedAssetsAreFailedItemsTheRestIsWritten) {
  storage_.held = {kEth, kUsdc, kBtc};
  fetcher_.unmapped = {kUsdc};
  auto run = Start();
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_PARTIAL);
  EXPECT_EQ(outcome_->counts.items_failed(), 1u);
  EXPECT_EQ(outcome_->counts.items_succeeded(), 2u);
  ASSERT_EQ(outcome_->error_summary.size(), 1u);
  EXPECT_EQ(outcome_->error_summary[0].code(), v1::Error::NOT_FOUND);
  EXPECT_EQ(outcome_->error_summary[0].chain_id(), "eip155:1");
  EXPECT_EQ(outcome_->error_summary[0].upstream(), "coingecko");
  EXPECT_EQ(storage_.writes[0].prices_size(), 2);
}

TEST_F(RefreshPricesRunTest, ManyAssetsGoInQueriesOfAThousandFourAtATime) {
  for (int i = 0; i < 5500; ++i) {
    storage_.held.push_back(absl::StrCat("eip155:1/erc20:0x", 1000000 + i));
  }
  auto run = Start();
  EXPECT_EQ(fetcher_.pending.size(), 4u);
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(fetcher_.requests.size(), 6u);
  EXPECT_EQ(fetcher_.max_in_flight, 4u);
  for (const v1::QueryPricesRequest& request : fetcher_.requests) {
    EXPECT_LE(request.asset_ids_size(), 1000);
  }
  EXPECT_EQ(outcome_->counts.items_succeeded(), 5500u);
}

TEST_F(RefreshPricesRunTest, NothingHeldIsASuccessWithNothingToDo) {
  auto run = Start();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(outcome_->counts.items_total(), 0u);
  EXPECT_TRUE(fetcher_.requests.empty());
  EXPECT_TRUE(storage_.writes.empty());
}

TEST_F(RefreshPricesRunTest, StorageDownFailsTheRun) {
  storage_.portfolio_status = absl::UnavailableError("storage down");
  auto run = Start();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_FAILED);
  EXPECT_EQ(outcome_->error.upstream(), "storage");
  EXPECT_TRUE(absl::StrContains(outcome_->error.message(), "storage down"));
}

TEST_F(RefreshPricesRunTest, CancelBeforeTheWriteWritesNothing) {
  storage_.held = {kEth};
  options_.forced = true;
  auto run = Start();
  ASSERT_EQ(fetcher_.pending.size(), 1u);
  EXPECT_TRUE(fetcher_.requests[0].bypass_cache());
  v1::Error reason;
  reason.set_code(v1::Error::DEADLINE_EXCEEDED);
  reason.set_message("run timeout");
  run->Cancel(reason);
  fetcher_.AnswerAll();
  ASSERT_TRUE(outcome_.has_value());
  EXPECT_EQ(outcome_->state, v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(outcome_->error.message(), "run timeout");
  EXPECT_TRUE(storage_.writes.empty());
}

}  // namespace
}  // namespace coffer::scheduler
