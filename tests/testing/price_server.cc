#include "tests/testing/price_server.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace coffer::testing {

PriceServer::PriceServer(int status, std::string body) {
  server_.Get("/simple/price", [this, status, body = std::move(body)](const httplib::Request&,
                                                                      httplib::Response& response) {
    ++requests_;
    response.status = status;
    response.set_content(body, "application/json");
  });
  // The fetcher keeps connections alive: without a short idle timeout, stop()
  // would wait out httplib's default of 5 s for them.
  server_.set_keep_alive_timeout(1);
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

PriceServer::~PriceServer() {
  server_.stop();
  thread_.join();
}

std::string PriceServer::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

}  // namespace coffer::testing
