#include "services/fetcher/config/header_values.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr);
  std::fwrite(contents.data(), 1, contents.size(), file);
  std::fclose(file);
  return path;
}

google::protobuf::RepeatedPtrField<config::HeaderConfig> Headers(
    std::vector<config::HeaderConfig> list) {
  google::protobuf::RepeatedPtrField<config::HeaderConfig> headers;
  for (auto& header : list) *headers.Add() = std::move(header);
  return headers;
}

config::HeaderConfig FromFile(const std::string& name, const std::string& path) {
  config::HeaderConfig header;
  header.set_name(name);
  header.set_value_file(path);
  return header;
}

config::HeaderConfig FromEnv(const std::string& name, const std::string& variable) {
  config::HeaderConfig header;
  header.set_name(name);
  header.set_value_env(variable);
  return header;
}

TEST(HeaderValuesTest, ReadsFileWithoutTrailingNewlineAndEnv) {
  const std::string lf = WriteFile("key_lf", "secret-one\n");
  const std::string crlf = WriteFile("key_crlf", "secret-two\r\n");
  ASSERT_EQ(setenv("COFFER_TEST_HEADER_KEY", "secret-three", 1), 0);
  absl::StatusOr<std::vector<HttpHeader>> headers =
      ResolveHeaders(Headers({FromFile("x-api-key", lf), FromFile("x-other", crlf),
                              FromEnv("Authorization", "COFFER_TEST_HEADER_KEY")}));
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_THAT(*headers, ElementsAre(HttpHeader{"x-api-key", "secret-one"},
                                    HttpHeader{"x-other", "secret-two"},
                                    HttpHeader{"Authorization", "secret-three"}));
}

TEST(HeaderValuesTest, MissingSourcesNameTheSourceNotTheValue) {
  unsetenv("COFFER_TEST_UNSET_VARIABLE");
  absl::StatusOr<std::vector<HttpHeader>> env =
      ResolveHeaders(Headers({FromEnv("x-api-key", "COFFER_TEST_UNSET_VARIABLE")}));
  ASSERT_EQ(env.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(env.status().message()), HasSubstr("COFFER_TEST_UNSET_VARIABLE"));

  const std::string missing = std::string(std::getenv("TEST_TMPDIR")) + "/no-such-key-file";
  absl::StatusOr<std::vector<HttpHeader>> file =
      ResolveHeaders(Headers({FromFile("x-api-key", missing)}));
  ASSERT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("no-such-key-file"));
}

TEST(HeaderValuesTest, RejectsValuesThatCouldInjectHeadersWithoutEchoingThem) {
  const std::string path = WriteFile("key_injection", "abc\r\nX-Evil: 1\n");
  absl::StatusOr<std::vector<HttpHeader>> headers =
      ResolveHeaders(Headers({FromFile("x-api-key", path)}));
  ASSERT_EQ(headers.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(headers.status().message()), HasSubstr("line break"));
  EXPECT_THAT(std::string(headers.status().message()), Not(HasSubstr("Evil")));
}

TEST(HeaderValuesTest, RejectsEmptyTooLongAndUnsetSources) {
  EXPECT_EQ(ResolveHeaders(Headers({FromFile("k", WriteFile("empty", "\n"))})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveHeaders(Headers({FromFile("k", WriteFile("long", std::string(9000, 'a')))}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  config::HeaderConfig unset;
  unset.set_name("k");
  EXPECT_EQ(ResolveHeaders(Headers({unset})).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::fetcher
