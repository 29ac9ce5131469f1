#include "tests/common/grpc/test_service.h"

#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/time/clock.h"

namespace coffer::testing {

using grpc_util::CallContext;
using grpc_util::Done;
using grpc_util::ServerWriter;

void TestServiceImpl::Register(grpc_util::AsyncServer& server) {
  server.RegisterService(&async_service_);
  COFFER_GRPC_UNARY(server, async_service_, test::TestService, Echo, this);
  COFFER_GRPC_UNARY(server, async_service_, test::TestService, Hang, this);
  COFFER_GRPC_SERVER_STREAMING(server, async_service_, test::TestService, Count, this);
}

void TestServiceImpl::HandleEcho(CallContext& context, const test::EchoRequest& request,
                                 test::EchoReply* reply, Done done) {
  ++echoes_;
  reply->set_text(request.text());
  reply->set_peer(context.server_context().peer());
  if (request.block_poller_ms() > 0) absl::SleepFor(absl::Milliseconds(request.block_poller_ms()));
  if (request.drop_done()) return;
  if (request.answer_twice()) {
    done(absl::OkStatus());
    done(absl::InternalError("second answer"));
    return;
  }
  if (request.delay_ms() == 0) {
    done(absl::OkStatus());
    return;
  }
  int delay_ms = request.delay_ms();
  bool queued = workers_.Submit([delay_ms, done = std::move(done)]() mutable {
    absl::SleepFor(absl::Milliseconds(delay_ms));
    done(absl::OkStatus());
  });
  if (!queued) done(absl::UnavailableError("workers stopped"));
}

void TestServiceImpl::HandleHang(CallContext& context, const test::EchoRequest& /*request*/,
                                 test::EchoReply* /*reply*/, Done done) {
  // The Done waits in a shared slot until the cancellation callback takes it.
  auto slot = std::make_shared<std::pair<std::mutex, std::unique_ptr<Done>>>();
  slot->second = std::make_unique<Done>(std::move(done));
  hanging_.fetch_add(1);
  context.OnCancel([this, slot] {
    std::unique_ptr<Done> taken;
    {
      std::lock_guard lock(slot->first);
      taken = std::move(slot->second);
    }
    cancellations_.fetch_add(1);
    hanging_.fetch_sub(1);
    if (taken) (*taken)(absl::CancelledError("cancelled"));
  });
}

void TestServiceImpl::HandleCount(CallContext& /*context*/, const test::CountRequest& request,
                                  ServerWriter<test::CountReply> writer) {
  int count = request.count();
  int delay_ms = request.delay_ms();
  auto shared = std::make_shared<ServerWriter<test::CountReply>>(std::move(writer));
  bool queued = workers_.Submit([count, delay_ms, shared] {
    for (int i = 0; i < count; ++i) {
      if (delay_ms > 0) absl::SleepFor(absl::Milliseconds(delay_ms));
      test::CountReply reply;
      reply.set_n(i);
      if (!shared->Write(reply)) {
        shared->Finish(absl::CancelledError("client went away"));
        return;
      }
    }
    shared->Finish(absl::OkStatus());
  });
  if (!queued) shared->Finish(absl::UnavailableError("workers stopped"));
}

}  // namespace coffer::testing
