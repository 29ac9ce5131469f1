// A loopback TCP port that is free right now, for a test that must give a
// service its address before the service starts (a client started first,
// or a service restarted on the port it had). Another process may take the
// port between this call and the bind, which on a test machine is rare
// enough that tests simply use it.
//
//   absl::StatusOr<int> port = PickUnusedPort();
//   StartService(Service::kStorage, {absl::StrCat("--listen=127.0.0.1:", *port)});
#ifndef COFFER_TESTS_TESTING_FREE_PORT_H_
#define COFFER_TESTS_TESTING_FREE_PORT_H_

#include "absl/status/statusor.h"

namespace coffer::testing {

// Binds 127.0.0.1:0, reads the port the kernel chose, and closes the socket.
[[nodiscard]] absl::StatusOr<int> PickUnusedPort();

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_FREE_PORT_H_
