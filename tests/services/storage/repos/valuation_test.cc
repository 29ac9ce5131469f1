#include "services/storage/repos/valuation.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "common/chain/amount.h"
#include "services/storage/repos/prices_repo.h"
#include "tests/services/storage/repos/repo_test_base.h"

namespace coffer::storage {
namespace {

constexpr int64_t kSecond = 1000000000;

v1::Amount MakeAmount(const std::string& units, uint32_t decimals) {
  v1::Amount amount;
  amount.set_units(units);
  amount.set_decimals(decimals);
  return amount;
}

v1::Price MakePrice(const std::string& asset, const std::string& quote, const std::string& units,
                    uint32_t decimals, int64_t time_seconds) {
  v1::Price price;
  price.set_asset_id(asset);
  price.set_quote_currency(quote);
  *price.mutable_price() = MakeAmount(units, decimals);
  price.mutable_price_time()->set_seconds(time_seconds);
  price.set_source("coingecko");
  return price;
}

v1::LatestBalance Balance(const std::string& account, const std::string& asset,
                          std::optional<v1::Amount> amount) {
  v1::LatestBalance balance;
  balance.set_account_id(account);
  balance.set_asset_id(asset);
  if (amount.has_value()) *balance.mutable_amount() = *amount;
  return balance;
}

class ValuationTest : public RepoTestBase {
 protected:
  void PutPrices(const std::vector<v1::Price>& prices) {
    v1::WritePricesRequest request;
    for (const v1::Price& price : prices) *request.add_prices() = price;
    v1::WritePricesResponse response;
    absl::Status status =
        Write([&](db::WriteContext& tx) { return WritePrices(tx, request, &response, kNow); });
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_EQ(response.rejected_size(), 0);
  }

  // Inserts a price row directly, inside a write that already holds a book.
  static absl::Status Insert(db::WriteContext& tx, const std::string& asset, int64_t time_seconds,
                             const std::string& units) {
    absl::StatusOr<db::CachedStatement> insert = tx.Prepare(
        "INSERT INTO prices (asset_id, quote_currency, price_time, units, decimals, written_at) "
        "VALUES (?1, 'usd', ?2, ?3, 0, 0)");
    if (!insert.ok()) return insert.status();
    absl::Status status = (*insert)->Bind(1, asset);
    if (status.ok()) status = (*insert)->Bind(2, time_seconds * kSecond);
    if (status.ok()) status = (*insert)->Bind(3, units);
    if (status.ok()) status = (*insert)->Run();
    return status;
  }

  google::protobuf::RepeatedPtrField<v1::LatestBalance> Valued(
      const std::vector<v1::LatestBalance>& balances, const std::string& quote) {
    google::protobuf::RepeatedPtrField<v1::LatestBalance> out;
    for (const v1::LatestBalance& balance : balances) *out.Add() = balance;
    absl::Status status =
        Read([&](db::ReadContext& tx) { return ValueLatestBalances(tx, quote, &out); });
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }
};

TEST(ValueAtTest, ExactProductRoundedTowardZero) {
  const v1::Price eth = MakePrice(kEth, "usd", "345678", 2, 1);
  // 1.5 ETH at 3456.78 = 5185.17.
  std::optional<v1::Amount> value = *ValueAt(MakeAmount("1500000000000000000", 18), eth);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->units(), "5185170000000000000000");
  EXPECT_EQ(value->decimals(), 18u);
  // 1 wei at 3456.78: 3.45678e-15 = 0.000000000000003456 at 18 decimals.
  value = *ValueAt(MakeAmount("1", 18), eth);
  EXPECT_EQ(value->units(), "3456");
  EXPECT_EQ(value->decimals(), 18u);
  // Toward zero, never up: 0.000000000000000001 x 0.99 is 0.
  value = *ValueAt(MakeAmount("1", 18), MakePrice(kEth, "usd", "99", 2, 1));
  EXPECT_EQ(value->units(), "0");
  // Zero stays zero.
  value = *ValueAt(MakeAmount("0", 18), eth);
  EXPECT_EQ(value->units(), "0");
  // A uint256-max balance keeps every digit.
  value = *ValueAt(MakeAmount(std::string(chain::kMaxUint256), 18), eth);
  EXPECT_EQ(value->units(),
            "400267778233769878016291709558332186109026617592492988960316187246873948276734509");
  // Fewer decimals than 18 are kept exact.
  value = *ValueAt(MakeAmount("5", 0), MakePrice(kEth, "usd", "25", 1, 1));
  EXPECT_EQ(value->units(), "125");
  EXPECT_EQ(value->decimals(), 1u);
}

TEST(ValueAtTest, TooManyDigitsIsUnpricedAndBadDataIsInternal) {
  // 2^256-1 x 10^100 has 178 digits, past the 160 a derived value may have.
  const v1::Price huge = MakePrice(kEth, "usd", "1" + std::string(100, '0'), 0, 1);
  absl::StatusOr<std::optional<v1::Amount>> value =
      ValueAt(MakeAmount(std::string(chain::kMaxUint256), 0), huge);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_FALSE(value->has_value());
  // 160 digits exactly is answered.
  value = ValueAt(MakeAmount("1" + std::string(59, '0'), 0), huge);
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_EQ((*value)->units().size(), 160u);
  value = ValueAt(MakeAmount("01", 0), huge);
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInternal);
}

TEST(ValidateQuoteCurrencyTest, Rules) {
  EXPECT_TRUE(ValidateQuoteCurrency("", "quote_currency").ok());
  EXPECT_TRUE(ValidateQuoteCurrency("usd", "quote_currency").ok());
  EXPECT_TRUE(ValidateQuoteCurrency("usdt2", "quote_currency").ok());
  absl::Status status = ValidateQuoteCurrency("USD", "quote_currency");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("quote_currency"), std::string::npos);
  EXPECT_FALSE(ValidateQuoteCurrency(std::string(17, 'a'), "quote_currency").ok());
  EXPECT_FALSE(ValidateQuoteCurrency("us d", "quote_currency").ok());
}

TEST_F(ValuationTest, ValuesAtTheLatestPriceOfTheQuote) {
  PutPrices({
      MakePrice(kEth, "usd", "300000", 2, 300),  // latest usd, written first
      MakePrice(kEth, "usd", "100000", 2, 100), MakePrice(kEth, "usd", "200000", 2, 200),
      MakePrice(kEth, "eur", "999999", 2, 400),  // another quote, newer
      MakePrice(kUsdc, "eur", "90", 2, 100),     // USDC has no usd price
  });
  const std::vector<v1::LatestBalance> balances = {
      Balance(EvmId(1), kEth, MakeAmount("2000000000000000000", 18)),
      Balance(EvmId(1), kUsdc, MakeAmount("5000000", 6)),
      Balance(EvmId(2), kEth, std::nullopt),  // never read successfully
      Balance(EvmId(2), kUsdc, MakeAmount("1", 6)),
      Balance(EvmId(3), kEth, MakeAmount("500000000000000000", 18)),
  };
  google::protobuf::RepeatedPtrField<v1::LatestBalance> usd = Valued(balances, "usd");
  ASSERT_EQ(usd.size(), 5);
  // 2 ETH x 3000.00.
  EXPECT_EQ(usd[0].value().units(), "6000000000000000000000");
  EXPECT_EQ(usd[0].value().decimals(), 18u);
  EXPECT_EQ(usd[0].price().price().units(), "300000");
  EXPECT_EQ(usd[0].price().quote_currency(), "usd");
  EXPECT_EQ(usd[0].price().asset_id(), kEth);
  EXPECT_EQ(usd[0].price().price_time().seconds(), 300);
  EXPECT_EQ(usd[0].price().source(), "coingecko");
  EXPECT_FALSE(usd[1].has_value());
  EXPECT_FALSE(usd[1].has_price());
  EXPECT_FALSE(usd[2].has_value());
  EXPECT_FALSE(usd[2].has_price());
  EXPECT_FALSE(usd[2].has_amount());
  EXPECT_FALSE(usd[3].has_value());
  EXPECT_EQ(usd[4].value().units(), "1500000000000000000000");
  // The rest of each balance is untouched.
  EXPECT_EQ(usd[4].account_id(), EvmId(3));
  EXPECT_EQ(usd[4].amount().units(), "500000000000000000");

  google::protobuf::RepeatedPtrField<v1::LatestBalance> eur = Valued(balances, "eur");
  EXPECT_EQ(eur[0].value().units(), "19999980000000000000000");
  EXPECT_EQ(eur[0].price().price_time().seconds(), 400);
  // 5 USDC x 0.90.
  EXPECT_EQ(eur[1].value().units(), "450000000");
  EXPECT_EQ(eur[1].value().decimals(), 8u);
  EXPECT_EQ(eur[3].value().units(), "90");

  google::protobuf::RepeatedPtrField<v1::LatestBalance> gbp = Valued(balances, "gbp");
  for (const v1::LatestBalance& balance : gbp) {
    EXPECT_FALSE(balance.has_value());
    EXPECT_FALSE(balance.has_price());
  }
}

TEST_F(ValuationTest, BookLooksEachAssetUpOnce) {
  PutPrices({MakePrice(kEth, "usd", "100", 0, 100)});
  absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
    PriceBook book(tx, "usd");
    absl::StatusOr<const v1::Price*> first = book.Latest(kEth);
    if (!first.ok()) return first.status();
    EXPECT_NE(*first, nullptr);
    absl::StatusOr<const v1::Price*> none = book.Latest(kUsdc);
    EXPECT_EQ(*none, nullptr);
    // Newer prices written under the book are not looked up again.
    if (absl::Status s = Insert(tx, kEth, 500, "500"); !s.ok()) return s;
    if (absl::Status s = Insert(tx, kUsdc, 500, "1"); !s.ok()) return s;
    absl::StatusOr<const v1::Price*> again = book.Latest(kEth);
    EXPECT_EQ(*again, *first);
    EXPECT_EQ((*again)->price().units(), "100");
    EXPECT_EQ(*book.Latest(kUsdc), nullptr);
    // A new book sees them.
    PriceBook fresh(tx, "usd");
    EXPECT_EQ((*fresh.Latest(kEth))->price().units(), "500");
    EXPECT_EQ((*fresh.Latest(kUsdc))->price().units(), "1");
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(ValuationTest, AtOrBeforePicksThePriceOfThePeriod) {
  PutPrices({
      MakePrice(kEth, "usd", "100", 0, 100),
      MakePrice(kEth, "usd", "200", 0, 200),
      MakePrice(kEth, "usd", "300", 0, 300),
      MakePrice(kEth, "eur", "7", 0, 50),
  });
  absl::Status status = Read([&](db::ReadContext& tx) -> absl::Status {
    PriceBook book(tx, "usd");
    // Out of order, repeated, at the exact price times and between them.
    const std::vector<std::pair<int64_t, std::string>> cases = {
        {250, "200"}, {50, ""},     {100, "100"}, {1000, "300"}, {199, "100"}, {200, "200"},
        {99, ""},     {300, "300"}, {150, "100"}, {250, "200"},  {50, ""},     {299, "200"},
    };
    for (const auto& [at, units] : cases) {
      absl::StatusOr<const v1::Price*> price = book.AtOrBefore(kEth, at * kSecond);
      if (!price.ok()) return price.status();
      if (units.empty()) {
        EXPECT_EQ(*price, nullptr) << at;
      } else {
        EXPECT_NE(*price, nullptr) << at;
        if (*price != nullptr) {
          EXPECT_EQ((*price)->price().units(), units) << at;
        }
      }
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(ValuationTest, AtOrBeforeReusesKnownPeriods) {
  PutPrices({MakePrice(kEth, "usd", "100", 0, 100), MakePrice(kEth, "usd", "200", 0, 200)});
  absl::Status status = Write([&](db::WriteContext& tx) -> absl::Status {
    PriceBook book(tx, "usd");
    // Learns: 100 holds over [100, 150], 200 over [200, 250], none up to 60.
    EXPECT_EQ((*book.AtOrBefore(kEth, 150 * kSecond))->price().units(), "100");
    EXPECT_EQ((*book.AtOrBefore(kEth, 250 * kSecond))->price().units(), "200");
    EXPECT_EQ(*book.AtOrBefore(kEth, 60 * kSecond), nullptr);
    if (absl::Status s = Insert(tx, kEth, 120, "120"); !s.ok()) return s;
    if (absl::Status s = Insert(tx, kEth, 160, "160"); !s.ok()) return s;
    if (absl::Status s = Insert(tx, kEth, 40, "40"); !s.ok()) return s;
    // Inside known periods: answered from the book.
    EXPECT_EQ((*book.AtOrBefore(kEth, 140 * kSecond))->price().units(), "100");
    EXPECT_EQ(*book.AtOrBefore(kEth, 50 * kSecond), nullptr);
    // Outside them: looked up, and the new rows are seen.
    EXPECT_EQ((*book.AtOrBefore(kEth, 170 * kSecond))->price().units(), "160");
    EXPECT_EQ((*book.AtOrBefore(kEth, 70 * kSecond))->price().units(), "40");
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
}

}  // namespace
}  // namespace coffer::storage
