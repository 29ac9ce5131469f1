// A CoinGecko-compatible price source for tests: answers GET /simple/price
// with a fixed status and JSON body on a free loopback port, on a thread of
// its own, and counts the requests. The fetcher's price_sources point at
// url().
//
//   PriceServer prices(200, R"({"ethereum":{"usd":3012.4567}})");
//   config << "price_sources { name: \"coingecko\" base_url: \"" << prices.url() << "\" }";
//   ...
//   EXPECT_GE(prices.requests(), 1);
#ifndef COFFER_TESTS_TESTING_PRICE_SERVER_H_
#define COFFER_TESTS_TESTING_PRICE_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>

namespace coffer::testing {

class PriceServer {
 public:
  // Starts serving at once; the constructor returns once the port is bound.
  PriceServer(int status, std::string body);
  // Stops the server and joins its thread.
  ~PriceServer();

  PriceServer(const PriceServer&) = delete;
  PriceServer& operator=(const PriceServer&) = delete;

  // "http://127.0.0.1:<port>".
  std::string url() const;
  // Requests answered so far.
  int requests() const { return requests_.load(); }

 private:
  httplib::Server server_;
  std::atomic<int> requests_{0};
  int port_ = 0;
  std::thread thread_;
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_PRICE_SERVER_H_
