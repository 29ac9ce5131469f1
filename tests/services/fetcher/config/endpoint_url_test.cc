#include "services/fetcher/config/endpoint_url.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coffer::fetcher {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(EndpointUrlTest, HttpWithPortKeepsPortInDisplayHost) {
  absl::StatusOr<EndpointUrl> url = ParseEndpointUrl("http://127.0.0.1:8545");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8545);
  EXPECT_EQ(url->display_host, "127.0.0.1:8545");
}

TEST(EndpointUrlTest, HttpsWithPathAndQueryShowsOnlyHost) {
  absl::StatusOr<EndpointUrl> url =
      ParseEndpointUrl("HTTPS://Eth-Mainnet.Example.com/v2/secret-key?apikey=other-secret");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "eth-mainnet.example.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->display_host, "eth-mainnet.example.com");
}

TEST(EndpointUrlTest, Ipv6Host) {
  absl::StatusOr<EndpointUrl> url = ParseEndpointUrl("http://[::1]:8545/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->display_host, "[::1]:8545");
}

void ExpectRejected(const std::string& text, const std::string& reason) {
  absl::StatusOr<EndpointUrl> url = ParseEndpointUrl(text);
  ASSERT_FALSE(url.ok()) << text;
  EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_THAT(std::string(url.status().message()), HasSubstr(reason)) << text;
}

TEST(EndpointUrlTest, RejectsWhatCannotBeAnEndpoint) {
  ExpectRejected("", "empty");
  ExpectRejected("ftp://example.com", "must be http or https");
  ExpectRejected("ws://example.com", "must be http or https");
  ExpectRejected("example.com:8545", "must be http or https");
  ExpectRejected("http://", "");
  ExpectRejected("http://exa mple.com", "spaces");
  ExpectRejected("http://example.com/\n", "control");
  ExpectRejected("https://example.com/#frag", "fragment");
  ExpectRejected("http://example.com:99999", "");
  ExpectRejected("http://" + std::string(3000, 'a') + ".com", "longer than");
}

TEST(EndpointUrlTest, CredentialsAreRejectedWithoutEchoingThem) {
  absl::StatusOr<EndpointUrl> url = ParseEndpointUrl("https://user:hunter2@example.com/");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(url.status().message()), HasSubstr("user name or password"));
  EXPECT_THAT(std::string(url.status().message()), Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace coffer::fetcher
