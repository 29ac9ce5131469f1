#include "services/storage/repos/paging.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::PageRequest Page(int32_t size, std::string token = "") {
  v1::PageRequest page;
  page.set_page_size(size);
  page.set_page_token(std::move(token));
  return page;
}

TEST(PagingTest, PageSizeDefaultsCapsAndRefusesNegative) {
  EXPECT_EQ(*PageSize(Page(0), 100, 1000), 100);
  EXPECT_EQ(*PageSize(Page(7), 100, 1000), 7);
  EXPECT_EQ(*PageSize(Page(5000), 100, 1000), 1000);
  absl::StatusOr<int32_t> negative = PageSize(Page(-1), 100, 1000);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(negative.status().message()), HasSubstr("page.page_size"));
}

TEST(PagingTest, TokenRoundTripsItsCursorIncludingEmptyParts) {
  const std::string token = EncodePageToken("runs-v1", "abc123", {"1700000000", "", "run-7"});
  absl::StatusOr<std::vector<std::string>> cursor =
      DecodePageToken(token, "runs-v1", "abc123", 3, "ListRunRecords");
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_THAT(*cursor, ElementsAre("1700000000", "", "run-7"));
  // Web-safe: usable in URLs and JSON without escaping.
  EXPECT_EQ(token.find_first_of("+/"), std::string::npos);
}

TEST(PagingTest, TruncatedOrEditedTokenIsRefused) {
  const std::string token = EncodePageToken("prices-v1", "f", {"1700000000123", "usd"});
  for (size_t length = 1; length < token.size(); ++length) {
    EXPECT_FALSE(DecodePageToken(token.substr(0, length), "prices-v1", "f", 2, "M").ok()) << length;
  }
  std::string edited = token;
  edited[edited.size() / 2] = edited[edited.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(DecodePageToken(edited, "prices-v1", "f", 2, "M").ok());
}

TEST(PagingTest, EmptyTokenIsTheFirstPage) {
  absl::StatusOr<std::vector<std::string>> cursor = DecodePageToken("", "k", "f", 2, "M");
  ASSERT_TRUE(cursor.ok());
  EXPECT_THAT(*cursor, IsEmpty());
}

TEST(PagingTest, TokenOfAnotherMethodFilterOrShapeIsRefusedByName) {
  const std::string token = EncodePageToken("runs-v1", "filters-a", {"x", "y"});
  for (const absl::StatusOr<std::vector<std::string>>& refused : {
           DecodePageToken(token, "tasks-v1", "filters-a", 2, "ListRunRecords"),
           DecodePageToken(token, "runs-v1", "filters-b", 2, "ListRunRecords"),
           DecodePageToken(token, "runs-v1", "filters-a", 3, "ListRunRecords"),
           DecodePageToken(token, "runs-v1", "filters-a", 1, "ListRunRecords"),
           DecodePageToken("not base64 at all!", "runs-v1", "filters-a", 2, "ListRunRecords"),
       }) {
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(refused.status().message()),
                HasSubstr("page.page_token: not a token of ListRunRecords"));
  }
}

}  // namespace
}  // namespace coffer::storage
