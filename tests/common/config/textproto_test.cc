#include "common/config/textproto.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testdata/test_config.pb.h"

namespace coffer::config {
namespace {

using ::coffer::test::config::TestConfig;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const std::string path = absl::StrCat(::testing::TempDir(), name);
  std::ofstream(path) << contents;
  return path;
}

TEST(ParseTextProtoTest, ParsesNestedRepeatedMessages) {
  TestConfig config;
  const absl::Status status = ParseTextProto(R"pb(
                                               name: "local"
                                               chains {
                                                 id: "eip155:1"
                                                 endpoints { url: "http://127.0.0.1:8545" }
                                                 endpoints { url: "https://rpc.example" }
                                               }
                                             )pb",
                                             "config.textproto", &config);

  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(config.name(), "local");
  ASSERT_EQ(config.chains_size(), 1);
  ASSERT_EQ(config.chains(0).endpoints_size(), 2);
  EXPECT_EQ(config.chains(0).endpoints(1).url(), "https://rpc.example");
}

TEST(ParseTextProtoTest, ReplacesEarlierContents) {
  TestConfig config;
  config.set_name("old");
  config.add_chains()->set_id("old");

  ASSERT_TRUE(ParseTextProto("name: \"new\"", "config.textproto", &config).ok());

  EXPECT_EQ(config.name(), "new");
  EXPECT_EQ(config.chains_size(), 0);
}

TEST(ParseTextProtoTest, SyntaxErrorHasFileLineAndColumn) {
  TestConfig config;
  const absl::Status status = ParseTextProto(
      "name: \"local\"\n"
      "chains {\n"
      "  endpoints { url: 42 }\n"
      "}\n",
      "fetcher.textproto", &config);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("fetcher.textproto:3:20: "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("string"));
}

TEST(ParseTextProtoTest, UnknownFieldIsAnError) {
  TestConfig config;
  const absl::Status status = ParseTextProto(
      "name: \"local\"\n"
      "chains {\n"
      "  id: \"eip155:1\"\n"
      "  endpoint { url: \"https://rpc.example\" }\n"
      "}\n",
      "fetcher.textproto", &config);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  // Protobuf places an unknown field's error at the token after its name.
  EXPECT_THAT(std::string(status.message()), StartsWith("fetcher.textproto:4:12: "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("no field named \"endpoint\""));
}

TEST(ParseTextProtoTest, UnterminatedMessageReportsEndOfInput) {
  TestConfig config;
  const absl::Status status = ParseTextProto("chains {\n  id: \"x\"\n", "c.textproto", &config);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("c.textproto:3:1: "));
}

TEST(LoadTextProtoTest, LoadsFile) {
  const std::string path = WriteTempFile("good.textproto", "name: \"from file\"\n");
  TestConfig config;

  const absl::Status status = LoadTextProto(path, &config);

  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(config.name(), "from file");
}

TEST(LoadTextProtoTest, ErrorsNameTheFile) {
  const std::string path = WriteTempFile("bad.textproto", "\n\nnmae: \"typo\"\n");
  TestConfig config;

  const absl::Status status = LoadTextProto(path, &config);

  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  // At the ':' after the unknown name, where protobuf places the error.
  EXPECT_THAT(std::string(status.message()), StartsWith(absl::StrCat(path, ":3:5: ")));
  EXPECT_THAT(std::string(status.message()), HasSubstr("nmae"));
}

TEST(LoadTextProtoTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = absl::StrCat(::testing::TempDir(), "no/such/config.textproto");
  TestConfig config;

  const absl::Status status = LoadTextProto(path, &config);

  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
}

TEST(LoadTextProtoTest, DirectoryIsAnError) {
  TestConfig config;

  const absl::Status status = LoadTextProto(::testing::TempDir(), &config);

  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr(::testing::TempDir()));
}

}  // namespace
}  // namespace coffer::config
