#include "services/fetcher/http/curl_loop.h"

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

#include "tests/services/fetcher/http/test_server.h"

namespace coffer::fetcher {
namespace {

using testing::Gate;
using testing::ResettingServer;
using testing::TestServer;
using testing::UnusedPort;

HttpRequest Get(std::string url) {
  HttpRequest request;
  request.url = std::move(url);
  request.timeout = absl::Seconds(10);
  return request;
}

absl::StatusOr<HttpResponse> Send(CurlLoop& loop, HttpRequest request) {
  std::promise<absl::StatusOr<HttpResponse>> promise;
  loop.Submit(std::move(request),
              [&](absl::StatusOr<HttpResponse> outcome) { promise.set_value(std::move(outcome)); });
  return promise.get_future().get();
}

TEST(CurlLoopTest, GetsResponseWithLowercasedHeaders) {
  TestServer server;
  server.http().Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.status = 203;
    res.set_header("X-Custom-Thing", "  value ");
    res.set_content("hello world", "text/plain");
  });
  server.Start();
  CurlLoop loop(CurlLoop::Options{});
  absl::StatusOr<HttpResponse> response = Send(loop, Get(server.Url("/hello")));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 203);
  EXPECT_EQ(response->body, "hello world");
  ASSERT_NE(response->FindHeader("x-custom-thing"), nullptr);
  EXPECT_EQ(*response->FindHeader("x-custom-thing"), "value");
  EXPECT_EQ(response->FindHeader("X-Custom-Thing"), nullptr);
  EXPECT_GT(response->total_time, absl::ZeroDuration());
}

TEST(CurlLoopTest, PostsBodyAndHeaders) {
  TestServer server;
  server.http().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.get_header_value("X-Api") + ":" + req.body, "text/plain");
  });
  server.Start();
  CurlLoop loop(CurlLoop::Options{});
  HttpRequest request = Get(server.Url("/echo"));
  request.method = "POST";
  request.headers = {{"X-Api", "k1"}, {"Content-Type", "application/json"}};
  request.body = std::string(5000, 'x');  // Past curl's 100-continue threshold.
  absl::StatusOr<HttpResponse> response = Send(loop, request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "k1:" + request.body);
}

TEST(CurlLoopTest, RejectsHeaderInjection) {
  CurlLoop loop(CurlLoop::Options{});
  HttpRequest request = Get("http://127.0.0.1:1/");
  request.headers = {{"X-Evil", "a\r\nHost: other"}};
  EXPECT_EQ(Send(loop, request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CurlLoopTest, ReusesKeepAliveConnections) {
  TestServer server;
  server.http().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  server.Start();
  CurlLoop loop(CurlLoop::Options{});
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    absl::StatusOr<HttpResponse> response = Send(loop, Get(server.Url("/ok")));
    ASSERT_TRUE(response.ok()) << response.status();
  }
  const CurlLoop::Counters counters = loop.counters();
  EXPECT_EQ(counters.transfers_completed, kRequests);
  EXPECT_LT(counters.connections_opened, kRequests);
  EXPECT_GE(counters.connections_opened, 1u);
  EXPECT_EQ(counters.connections_reused + counters.connections_opened, kRequests);
}

TEST(CurlLoopTest, TimeoutIsDeadlineExceeded) {
  TestServer server;
  Gate gate;
  server.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    gate.Wait();
    res.set_content("late", "text/plain");
  });
  server.Start();
  CurlLoop loop(CurlLoop::Options{});
  HttpRequest request = Get(server.Url("/slow?key=secret"));
  request.timeout = absl::Milliseconds(200);
  absl::StatusOr<HttpResponse> response = Send(loop, request);
  gate.Open();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_EQ(std::string(response.status().message()).find("secret"), std::string::npos);
}

TEST(CurlLoopTest, RefusedConnectionIsUnavailable) {
  CurlLoop loop(CurlLoop::Options{});
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/x?apikey=secret";
  absl::StatusOr<HttpResponse> response = Send(loop, Get(url));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_EQ(std::string(response.status().message()).find("secret"), std::string::npos);
}

TEST(CurlLoopTest, ResetConnectionIsUnavailable) {
  ResettingServer server;
  CurlLoop loop(CurlLoop::Options{});
  absl::StatusOr<HttpResponse> response = Send(loop, Get(server.Url()));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
}

TEST(CurlLoopTest, OversizedBodyIsResourceExhausted) {
  TestServer server;
  server.http().Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(1 << 20, 'a'), "text/plain");
  });
  // Chunked: no Content-Length to refuse up front, so the limit must hold
  // while reading.
  server.http().Get("/stream", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [](size_t offset, httplib::DataSink& sink) {
      if (offset >= (size_t{8} << 20)) {
        sink.done();
        return true;
      }
      const std::string chunk(64 << 10, 'b');
      return sink.write(chunk.data(), chunk.size());
    });
  });
  server.http().Get("/fits", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(1024, 'c'), "text/plain");
  });
  server.Start();
  CurlLoop::Options options;
  options.max_response_bytes = 1024;
  CurlLoop loop(options);
  EXPECT_EQ(Send(loop, Get(server.Url("/big"))).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Send(loop, Get(server.Url("/stream"))).status().code(),
            absl::StatusCode::kResourceExhausted);
  absl::StatusOr<HttpResponse> fits = Send(loop, Get(server.Url("/fits")));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->body.size(), 1024u);
}

TEST(CurlLoopTest, DefaultBodyLimitIs16MiB) {
  EXPECT_EQ(CurlLoop::Options{}.max_response_bytes, 16u << 20);
}

TEST(CurlLoopTest, CancelCompletesOnceWithCancelled) {
  TestServer server;
  Gate gate;
  std::atomic<int> arrived{0};
  server.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    ++arrived;
    gate.Wait();
    res.set_content("late", "text/plain");
  });
  server.Start();
  CurlLoop loop(CurlLoop::Options{});
  std::atomic<int> calls{0};
  std::promise<absl::Status> promise;
  CurlLoop::RequestHandle handle =
      loop.Submit(Get(server.Url("/slow")), [&](absl::StatusOr<HttpResponse> outcome) {
        if (++calls == 1) promise.set_value(outcome.status());
      });
  while (arrived.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  handle.Cancel();
  handle.Cancel();
  EXPECT_EQ(promise.get_future().get().code(), absl::StatusCode::kCancelled);
  gate.Open();
  // The loop still works, and the late answer reaches nobody.
  server.http().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  EXPECT_TRUE(Send(loop, Get(server.Url("/ok"))).ok());
  EXPECT_EQ(calls.load(), 1);
}

TEST(CurlLoopTest, ShutdownCancelsRequestsInFlightAndTimers) {
  TestServer server;
  Gate gate;
  std::atomic<int> arrived{0};
  server.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    ++arrived;
    gate.Wait();
    res.set_content("late", "text/plain");
  });
  server.Start();
  std::vector<absl::Status> outcomes;
  std::mutex mu;
  auto record = [&](absl::Status status) {
    std::lock_guard<std::mutex> lock(mu);
    outcomes.push_back(std::move(status));
  };
  {
    CurlLoop loop(CurlLoop::Options{});
    CurlLoop::RequestHandle handle;
    for (int i = 0; i < 3; ++i) {
      handle = loop.Submit(Get(server.Url("/slow")),
                           [&](absl::StatusOr<HttpResponse> outcome) { record(outcome.status()); });
    }
    loop.RunAfter(absl::Hours(1), [&](absl::Status status) { record(status); });
    while (arrived.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    loop.Shutdown();
    {
      std::lock_guard<std::mutex> lock(mu);
      ASSERT_EQ(outcomes.size(), 4u);
      for (const absl::Status& status : outcomes) {
        EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
      }
    }
    // After shutdown work is refused at once, on this thread.
    loop.Submit(Get(server.Url("/slow")),
                [&](absl::StatusOr<HttpResponse> outcome) { record(outcome.status()); });
    loop.RunAfter(absl::ZeroDuration(), [&](absl::Status status) { record(status); });
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(outcomes.size(), 6u);
    EXPECT_EQ(outcomes[4].code(), absl::StatusCode::kCancelled);
    EXPECT_EQ(outcomes[5].code(), absl::StatusCode::kCancelled);
    handle.Cancel();  // After shutdown: nothing more happens.
    EXPECT_EQ(outcomes.size(), 6u);
  }
  gate.Open();
}

TEST(CurlLoopTest, TimersRunInOrderOnTheLoopThread) {
  CurlLoop loop(CurlLoop::Options{});
  std::vector<int> order;
  std::promise<void> done;
  const absl::Time start = absl::Now();
  absl::Time fired_at;
  loop.RunAfter(absl::Milliseconds(150), [&](absl::Status status) {
    EXPECT_TRUE(status.ok());
    EXPECT_TRUE(loop.InLoopThread());
    fired_at = absl::Now();
    order.push_back(3);
    done.set_value();
  });
  loop.RunAfter(absl::Milliseconds(50), [&](absl::Status) { order.push_back(2); });
  loop.Post([&](absl::Status) { order.push_back(1); });
  done.get_future().get();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(fired_at - start, absl::Milliseconds(150));
  EXPECT_FALSE(loop.InLoopThread());
}

TEST(CurlLoopTest, HostConnectionLimitHolds) {
  TestServer server;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  server.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    --in_flight;
    res.set_content("ok", "text/plain");
  });
  server.Start();
  CurlLoop::Options options;
  options.max_host_connections = 2;
  CurlLoop loop(options);
  constexpr int kRequests = 8;
  std::vector<std::promise<absl::Status>> promises(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    loop.Submit(Get(server.Url("/slow")), [&promises, i](absl::StatusOr<HttpResponse> outcome) {
      promises[i].set_value(outcome.status());
    });
  }
  for (auto& promise : promises) EXPECT_TRUE(promise.get_future().get().ok());
  EXPECT_LE(max_in_flight.load(), 2);
  EXPECT_GE(max_in_flight.load(), 1);
  EXPECT_LE(loop.counters().connections_opened, 2u);
}

}  // namespace
}  // namespace coffer::fetcher
