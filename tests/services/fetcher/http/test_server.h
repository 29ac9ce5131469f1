// A cpp-httplib server on a free loopback port, for the HTTP engine's
// tests, plus a "server" that resets every connection it accepts.
//
//   TestServer server;
//   server.http().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
//     res.set_content("hello", "text/plain");
//   });
//   server.Start();
//   request.url = server.Url("/ok");
#ifndef COFFER_TESTS_SERVICES_FETCHER_HTTP_TEST_SERVER_H_
#define COFFER_TESTS_SERVICES_FETCHER_HTTP_TEST_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace coffer::fetcher::testing {

// Lets handlers block until the test releases them (so a server never
// answers a request the test wants in flight), bounded so a failing test
// cannot hang.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class TestServer {
 public:
  TestServer();
  // Stops the server and joins it: handlers still running are waited for.
  ~TestServer();

  httplib::Server& http() { return server_; }

  // Binds a free port on 127.0.0.1 (connections queue from here on) and
  // starts serving. Call after registering handlers.
  void Start();
  int port() const { return port_; }
  std::string Url(std::string_view path) const;

 private:
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
};

// Accepts connections on a free loopback port and closes each at once with
// a TCP reset, before any response.
class ResettingServer {
 public:
  ResettingServer();
  ~ResettingServer();
  std::string Url() const;

 private:
  int listen_fd_ = -1;
  int port_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A loopback port that nothing listens on (bound, then closed).
int UnusedPort();

}  // namespace coffer::fetcher::testing

#endif  // COFFER_TESTS_SERVICES_FETCHER_HTTP_TEST_SERVER_H_
