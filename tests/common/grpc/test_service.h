// The handlers of coffer.test.TestService, for the framework's tests. Delays
// run on a thread pool, never on a polling thread (except the deliberate
// block_poller_ms hook).
#ifndef COFFER_TESTS_COMMON_GRPC_TEST_SERVICE_H_
#define COFFER_TESTS_COMMON_GRPC_TEST_SERVICE_H_

#include <atomic>

#include "test_service.grpc.pb.h"

#include "common/exec/thread_pool.h"
#include "common/grpc/async_server.h"

namespace coffer::testing {

class TestServiceImpl {
 public:
  TestServiceImpl() : workers_("test-workers", 64) {}

  void Register(grpc_util::AsyncServer& server);

  void HandleEcho(grpc_util::CallContext& context, const test::EchoRequest& request,
                  test::EchoReply* reply, grpc_util::Done done);
  void HandleHang(grpc_util::CallContext& context, const test::EchoRequest& request,
                  test::EchoReply* reply, grpc_util::Done done);
  void HandleCount(grpc_util::CallContext& context, const test::CountRequest& request,
                   grpc_util::ServerWriter<test::CountReply> writer);

  // Handlers that saw their call cancelled (through CallContext::OnCancel).
  int cancellations() const { return cancellations_.load(); }
  // Hang calls currently waiting.
  int hanging() const { return hanging_.load(); }
  // Echo calls answered or begun so far.
  int echoes() const { return echoes_.load(); }

  // Finishes what is queued on the worker pool; call before the server goes.
  void Shutdown() { workers_.Shutdown(); }

 private:
  test::TestService::AsyncService async_service_;
  exec::ThreadPool workers_;
  std::atomic<int> cancellations_{0};
  std::atomic<int> hanging_{0};
  std::atomic<int> echoes_{0};
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_COMMON_GRPC_TEST_SERVICE_H_
