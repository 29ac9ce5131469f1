// framework_ping_server: the same coffer.v1.Admin/Ping as bare_echo_server,
// served by coffer's framework exactly as every coffer service serves it:
// a ServiceHost (common/grpc/service_host.h), i.e. an AsyncServer with
// grpc.health.v1, coffer.v1.Admin and reflection registered, configured from
// the common flags, shutting down in order on SIGTERM/SIGINT. So the
// benchmark measures the path a real call takes: call objects, admission,
// per-method metrics, Done, re-arming.
//
//   framework_ping_server --listen=127.0.0.1:0 --completion_queues=2 --port_file=/tmp/p
//
// Flags are ServiceHost's (--listen, --completion_queues,
// --calls_armed_per_method, --port_file, --shutdown_grace, --debug, ...) and
// logging's. Unlike a service, no COFFER_* environment fallbacks: a
// benchmark's every input is on its command line.
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"

#include "common/exec/termination_signal.h"
#include "common/grpc/service_host.h"
#include "common/log/logging.h"

ABSL_FLAG(bool, mutex_deadlock_detection, true,
          "Leave Abseil's Mutex deadlock detection as the library was built. Debian builds Abseil "
          "without NDEBUG, so it is on, and every absl::Mutex lock (gRPC takes dozens per call) "
          "updates a global lock graph; false turns it off for this process");

int main(int argc, char** argv) {
  // First, before gRPC or anything else starts a thread.
  coffer::exec::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "framework_ping_server: coffer.v1.Admin/Ping on coffer's ServiceHost (benchmark)");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  coffer::log::Init(coffer::log::OptionsFromFlags("framework_ping_server"));
  coffer::grpc_util::ServiceHost host({.name = "coffer-bench",
                                       .grpc_services = {"coffer.v1.Admin"},
                                       .default_listen = "127.0.0.1:0"});
  return host.Run();
}
