#include "tests/services/fetcher/http/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace coffer::fetcher::testing {
namespace {

// Returns a listening socket on a free loopback port and that port.
int ListenOnFreePort(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0) {
    std::abort();
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

TestServer::TestServer() {
  server_.set_keep_alive_max_count(1000);
  server_.set_keep_alive_timeout(30);
  // Enough threads that sleeping handlers never starve the others.
  server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
}

TestServer::~TestServer() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void TestServer::Start() {
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) std::abort();
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

std::string TestServer::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

ResettingServer::ResettingServer() {
  listen_fd_ = ListenOnFreePort(&port_);
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      pollfd pfd{listen_fd_, POLLIN, 0};
      if (poll(&pfd, 1, 50) <= 0) continue;
      const int conn = accept(listen_fd_, nullptr, nullptr);
      if (conn < 0) continue;
      // Wait for the request so the reset hits a connection in use.
      pollfd cfd{conn, POLLIN, 0};
      poll(&cfd, 1, 1000);
      linger reset{1, 0};
      setsockopt(conn, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      close(conn);
    }
  });
}

ResettingServer::~ResettingServer() {
  stop_.store(true);
  thread_.join();
  close(listen_fd_);
}

std::string ResettingServer::Url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/";
}

int UnusedPort() {
  int port = 0;
  close(ListenOnFreePort(&port));
  return port;
}

}  // namespace coffer::fetcher::testing
