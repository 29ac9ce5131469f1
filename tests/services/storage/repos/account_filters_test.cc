#include "services/storage/repos/account_filters.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

google::protobuf::RepeatedPtrField<std::string> Tags(std::initializer_list<const char*> tags) {
  google::protobuf::RepeatedPtrField<std::string> field;
  for (const char* tag : tags) field.Add(tag);
  return field;
}

TEST(AccountFiltersTest, TagsAreSortedAndDeduplicated) {
  absl::StatusOr<std::vector<std::string>> tags = NormalizeTags(Tags({"hot", "cold", "hot"}), "t");
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_THAT(*tags, ElementsAre("cold", "hot"));
}

TEST(AccountFiltersTest, BadTagIsNamedWithItsField) {
  for (const char* bad :
       {"", "Hot", "-hot", "hot wallet", "hot\ncold", "a23456789012345678901234567890123"}) {
    absl::StatusOr<std::vector<std::string>> tags = NormalizeTags(Tags({"ok", bad}), "params.tags");
    EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(tags.status().message()), HasSubstr("params.tags[1]")) << bad;
  }
  EXPECT_TRUE(IsValidTag("a.b_c-9"));
}

TEST(AccountFiltersTest, TooManyTagsAreRefused) {
  google::protobuf::RepeatedPtrField<std::string> many;
  for (size_t i = 0; i <= kMaxTags; ++i) many.Add("t" + std::to_string(i));
  absl::StatusOr<std::vector<std::string>> tags = NormalizeTags(many, "tags");
  EXPECT_EQ(tags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tags.status().message()), HasSubstr("at most 16"));
}

TEST(AccountFiltersTest, ChainIsNormalizedEmptyMeansEvery) {
  EXPECT_EQ(*NormalizeChainFilter("", "chain_id"), "");
  EXPECT_EQ(*NormalizeChainFilter("eip155:1", "chain_id"), "eip155:1");
  absl::StatusOr<std::string> bad = NormalizeChainFilter("eip155", "chain_id");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("chain_id: "));
}

}  // namespace
}  // namespace coffer::storage
