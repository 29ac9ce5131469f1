#include "services/fetcher/http/http_client.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "common/metrics/registry.h"
#include "tests/services/fetcher/http/test_server.h"

namespace coffer::fetcher {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Gate;
using testing::ResettingServer;
using testing::TestServer;
using testing::UnusedPort;

// What the server saw: arrival times and the most requests at once.
class Observed {
 public:
  void Enter() {
    std::lock_guard<std::mutex> lock(mu_);
    arrivals_.push_back(Clock::now());
    max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(arrivals_.size());
  }
  int max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }
  std::vector<Clock::time_point> arrivals() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_;
  }

 private:
  std::mutex mu_;
  std::vector<Clock::time_point> arrivals_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
};

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClient::Options ClientOptions() {
    HttpClient::Options options;
    options.registry = &registry_;
    options.retry.base_delay = absl::Milliseconds(10);
    options.retry.max_delay = absl::Milliseconds(50);
    return options;
  }

  HttpRequest Get(const std::string& path) {
    HttpRequest request;
    request.url = server_.Url(path);
    request.timeout = absl::Seconds(10);
    return request;
  }

  static absl::StatusOr<HttpResponse> Send(HttpClient& client, const Upstream& upstream,
                                           HttpRequest request, SendOptions options = {}) {
    std::promise<absl::StatusOr<HttpResponse>> promise;
    client.Send(upstream, std::move(request), options, [&](absl::StatusOr<HttpResponse> outcome) {
      promise.set_value(std::move(outcome));
    });
    return promise.get_future().get();
  }

  uint64_t CounterValue(const std::string& name, metrics::Labels labels) {
    return registry_.GetCounter(name, labels).Value();
  }

  metrics::Registry registry_;
  TestServer server_;
  Observed observed_;
  const Upstream upstream_{.name = "test-upstream"};
};

TEST_F(HttpClientTest, SendsAndReusesConnections) {
  server_.http().Post("/ok", [&](const httplib::Request& req, httplib::Response& res) {
    observed_.Enter();
    res.set_content("pong:" + req.body, "text/plain");
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  constexpr int kRequests = 10;
  for (int i = 0; i < kRequests; ++i) {
    HttpRequest request = Get("/ok");
    request.method = "POST";
    request.body = "ping";
    absl::StatusOr<HttpResponse> response = Send(client, upstream_, request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "pong:ping");
  }
  EXPECT_LT(client.loop().counters().connections_opened, kRequests);
  const UpstreamStats stats = client.Stats("test-upstream");
  EXPECT_EQ(stats.requests, kRequests);
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.in_flight, 0);
  EXPECT_GT(stats.p50_latency, absl::ZeroDuration());
  EXPECT_GE(stats.p99_latency, stats.p50_latency);
  EXPECT_EQ(CounterValue("fetcher_upstream_responses_total",
                         {{"upstream", "test-upstream"}, {"code", "200"}}),
            kRequests);
  EXPECT_EQ(CounterValue("fetcher_upstream_bytes_sent_total", {{"upstream", "test-upstream"}}),
            4u * kRequests);
  EXPECT_EQ(CounterValue("fetcher_upstream_bytes_received_total", {{"upstream", "test-upstream"}}),
            9u * kRequests);
  EXPECT_EQ(client.UpstreamNames(), std::vector<std::string>{"test-upstream"});
  EXPECT_EQ(client.Stats("unknown").requests, 0u);
}

TEST_F(HttpClientTest, HonoursRetryAfterOn429) {
  server_.http().Get("/limited", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    if (observed_.count() == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
    } else {
      res.set_content("ok", "text/plain");
    }
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  absl::StatusOr<HttpResponse> response = Send(client, upstream_, Get("/limited"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  const std::vector<Clock::time_point> arrivals = observed_.arrivals();
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_GE(arrivals[1] - arrivals[0], std::chrono::seconds(1));
  const UpstreamStats stats = client.Stats("test-upstream");
  EXPECT_EQ(stats.rate_limited, 1u);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.requests, 2u);
}

TEST_F(HttpClientTest, Retries5xxThenSucceeds) {
  server_.http().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    if (observed_.count() <= 2) {
      res.status = observed_.count() == 1 ? 500 : 502;
    } else {
      res.set_content("finally", "text/plain");
    }
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, Get("/flaky"), SendOptions{.max_attempts = 5});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "finally");
  EXPECT_EQ(observed_.count(), 3);
  EXPECT_EQ(client.Stats("test-upstream").retries, 2u);
  EXPECT_EQ(client.Stats("test-upstream").failures, 2u);
  EXPECT_EQ(CounterValue("fetcher_upstream_retries_total", {{"upstream", "test-upstream"}}), 2u);
}

TEST_F(HttpClientTest, GivesUpAfterMaxAttemptsWithLastResponse) {
  server_.http().Get("/down", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    res.status = 503;
    res.set_content("attempt " + std::to_string(observed_.count()), "text/plain");
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, Get("/down"), SendOptions{.max_attempts = 3});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "attempt 3");
  EXPECT_EQ(observed_.count(), 3);
}

TEST_F(HttpClientTest, DoesNotRetry404) {
  server_.http().Get("/missing", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    res.status = 404;
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, Get("/missing"), SendOptions{.max_attempts = 5});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(observed_.count(), 1);
  EXPECT_EQ(CounterValue("fetcher_upstream_responses_total",
                         {{"upstream", "test-upstream"}, {"code", "404"}}),
            1u);
}

TEST_F(HttpClientTest, TimeoutsAreRetriedThenDeadlineExceeded) {
  Gate gate;
  server_.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    gate.Wait();
    res.set_content("late", "text/plain");
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  HttpRequest request = Get("/slow");
  request.timeout = absl::Milliseconds(200);
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, request, SendOptions{.max_attempts = 2});
  gate.Open();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_EQ(observed_.count(), 2);
  EXPECT_EQ(CounterValue("fetcher_upstream_errors_total",
                         {{"upstream", "test-upstream"}, {"code", "DEADLINE_EXCEEDED"}}),
            2u);
}

TEST_F(HttpClientTest, RefusedConnectionIsUnavailableAfterRetries) {
  HttpClient client(ClientOptions());
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/";
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, request, SendOptions{.max_attempts = 3});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_EQ(client.Stats("test-upstream").requests, 3u);
  EXPECT_EQ(client.Stats("test-upstream").failures, 3u);
}

TEST_F(HttpClientTest, ResetConnectionIsUnavailable) {
  ResettingServer resetting;
  HttpClient client(ClientOptions());
  HttpRequest request;
  request.url = resetting.Url();
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, request, SendOptions{.max_attempts = 2});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_EQ(client.Stats("test-upstream").requests, 2u);
}

TEST_F(HttpClientTest, OversizedBodyIsResourceExhaustedAndNotRetried) {
  server_.http().Get("/huge", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    res.set_content(std::string(64 << 10, 'z'), "text/plain");
    observed_.Leave();
  });
  server_.Start();
  HttpClient::Options options = ClientOptions();
  options.loop.max_response_bytes = 4096;
  HttpClient client(std::move(options));
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, Get("/huge"), SendOptions{.max_attempts = 3});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
  EXPECT_EQ(observed_.count(), 1);
}

TEST_F(HttpClientTest, DeadlineStopsRetriesWithLastResponse) {
  server_.http().Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    res.status = 503;
    res.set_header("Retry-After", "2");
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, Get("/busy"),
           SendOptions{.deadline = start + absl::Seconds(1), .max_attempts = 5});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(observed_.count(), 1);
  // Returned at once rather than after sleeping to the deadline.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(900));
}

TEST_F(HttpClientTest, DeadlineCutsAnAttemptShort) {
  Gate gate;
  server_.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    gate.Wait();
    observed_.Leave();
    res.set_content("late", "text/plain");
  });
  server_.Start();
  HttpClient client(ClientOptions());
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response =
      Send(client, upstream_, Get("/slow"),
           SendOptions{.deadline = start + absl::Milliseconds(300), .max_attempts = 5});
  const absl::Duration took = absl::Now() - start;
  gate.Open();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_EQ(observed_.count(), 1);
  EXPECT_LT(took, absl::Seconds(5));
}

TEST_F(HttpClientTest, RateLimitHoldsInEveryOneSecondWindow) {
  server_.http().Get("/ok", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    res.set_content("ok", "text/plain");
    observed_.Leave();
  });
  server_.Start();
  HttpClient client(ClientOptions());
  constexpr int kRate = 20, kBurst = 5, kRequests = 60;
  const Upstream limited{.name = "limited", .requests_per_second = kRate, .burst = kBurst};
  std::vector<std::promise<absl::StatusOr<HttpResponse>>> promises(kRequests);
  const absl::Time start = absl::Now();
  for (int i = 0; i < kRequests; ++i) {
    client.Send(limited, Get("/ok"), {}, [&promises, i](absl::StatusOr<HttpResponse> outcome) {
      promises[i].set_value(std::move(outcome));
    });
  }
  for (auto& promise : promises) {
    absl::StatusOr<HttpResponse> outcome = promise.get_future().get();
    ASSERT_TRUE(outcome.ok()) << outcome.status();
  }
  // The tokens after the burst come no faster than the rate.
  EXPECT_GE(absl::Now() - start, absl::Seconds(static_cast<double>(kRequests - kBurst) / kRate));
  std::vector<Clock::time_point> arrivals = observed_.arrivals();
  ASSERT_EQ(arrivals.size(), static_cast<size_t>(kRequests));
  std::sort(arrivals.begin(), arrivals.end());
  size_t first = 0, most = 0;
  for (size_t last = 0; last < arrivals.size(); ++last) {
    while (arrivals[last] - arrivals[first] >= std::chrono::seconds(1)) ++first;
    most = std::max(most, last - first + 1);
  }
  EXPECT_LE(most, static_cast<size_t>(kRate + kBurst));
  EXPECT_GT(client.Stats("limited").limiter_wait, absl::ZeroDuration());
  EXPECT_EQ(CounterValue("fetcher_upstream_requests_total", {{"upstream", "limited"}}),
            static_cast<uint64_t>(kRequests));
}

TEST_F(HttpClientTest, ConcurrencyLimitHolds) {
  server_.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    observed_.Leave();
    res.set_content("ok", "text/plain");
  });
  server_.Start();
  HttpClient client(ClientOptions());
  constexpr int kLimit = 3, kRequests = 15;
  const Upstream narrow{.name = "narrow", .max_concurrency = kLimit};
  std::vector<std::promise<absl::StatusOr<HttpResponse>>> promises(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    client.Send(narrow, Get("/slow"), {}, [&promises, i](absl::StatusOr<HttpResponse> outcome) {
      promises[i].set_value(std::move(outcome));
    });
  }
  for (auto& promise : promises) EXPECT_TRUE(promise.get_future().get().ok());
  EXPECT_LE(observed_.max_in_flight(), kLimit);
  EXPECT_GE(observed_.max_in_flight(), 2);
  EXPECT_EQ(observed_.count(), kRequests);
  // Waiting requests held no connection of their own.
  EXPECT_LE(client.loop().counters().connections_opened, static_cast<uint64_t>(kLimit));
}

TEST_F(HttpClientTest, DeadlinePassesWhileWaitingForTheLimiter) {
  Gate gate;
  server_.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    gate.Wait();
    observed_.Leave();
    res.set_content("ok", "text/plain");
  });
  server_.Start();
  HttpClient client(ClientOptions());
  const Upstream single{.name = "single", .max_concurrency = 1};
  std::promise<absl::StatusOr<HttpResponse>> first;
  client.Send(single, Get("/slow"), {},
              [&](absl::StatusOr<HttpResponse> outcome) { first.set_value(std::move(outcome)); });
  absl::StatusOr<HttpResponse> second = Send(
      client, single, Get("/slow"), SendOptions{.deadline = absl::Now() + absl::Milliseconds(200)});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded) << second.status();
  gate.Open();
  EXPECT_TRUE(first.get_future().get().ok());
  EXPECT_EQ(observed_.count(), 1);
}

TEST_F(HttpClientTest, ShutdownCancelsEverythingPending) {
  Gate gate;
  server_.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    gate.Wait();
    observed_.Leave();
    res.set_content("ok", "text/plain");
  });
  server_.http().Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_header("Retry-After", "30");
  });
  server_.Start();
  std::mutex mu;
  std::vector<absl::Status> outcomes;
  auto record = [&](absl::StatusOr<HttpResponse> outcome) {
    std::lock_guard<std::mutex> lock(mu);
    outcomes.push_back(outcome.status());
  };
  {
    HttpClient client(ClientOptions());
    const Upstream single{.name = "single", .max_concurrency = 1};
    // One in flight, two queued in the limiter, one waiting to retry.
    for (int i = 0; i < 3; ++i) client.Send(single, Get("/slow"), {}, record);
    client.Send(upstream_, Get("/busy"), {}, record);
    while (observed_.count() == 0 || client.Stats("test-upstream").requests == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    client.Shutdown();
    {
      std::lock_guard<std::mutex> lock(mu);
      ASSERT_EQ(outcomes.size(), 4u);
      for (const absl::Status& status : outcomes) {
        EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
      }
    }
    client.Send(single, Get("/slow"), {}, record);
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(outcomes.size(), 5u);
    EXPECT_EQ(outcomes[4].code(), absl::StatusCode::kCancelled);
  }
  gate.Open();
  EXPECT_EQ(observed_.count(), 1);
}

TEST_F(HttpClientTest, DoneMaySendAgainDuringShutdown) {
  Gate gate;
  server_.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    observed_.Enter();
    gate.Wait();
    observed_.Leave();
    res.set_content("ok", "text/plain");
  });
  server_.Start();
  std::vector<absl::Status> outcomes;
  {
    HttpClient client(ClientOptions());
    const Upstream single{.name = "single", .max_concurrency = 1};
    for (int i = 0; i < 3; ++i) {
      client.Send(single, Get("/slow"), {}, [&](absl::StatusOr<HttpResponse> outcome) {
        outcomes.push_back(outcome.status());
        // A caller that retries on its own, or moves on to the next
        // endpoint, must get an answer, not a deadlock.
        client.Send(single, Get("/slow"), {}, [&](absl::StatusOr<HttpResponse> again) {
          outcomes.push_back(again.status());
          EXPECT_GE(client.Stats("single").requests, 1u);
        });
      });
    }
    while (observed_.count() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    client.Shutdown();
    ASSERT_EQ(outcomes.size(), 6u);
    for (const absl::Status& status : outcomes) {
      EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
    }
  }
  gate.Open();
}

}  // namespace
}  // namespace coffer::fetcher
