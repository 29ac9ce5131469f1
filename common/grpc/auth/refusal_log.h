// RefusalLog: what a server says about the calls it refuses (no token, an
// unknown one, a role too low, a protected method on the plaintext health
// port), rate-limited: the first refusal is reported at once, later ones
// within `interval` are only counted and summed into the next report. A
// client retrying in a loop, or someone probing the port with made-up
// tokens, cannot flood the log; an operator still sees that calls are being
// refused, which method, from which peer, why, and how many.
//
// The reports are lines for the caller to log (ServerCall logs them at
// warning); they hold what the refusal's status says, which never holds a
// token (call_authorizer.h).
//
// Written here because Debian's Abseil predates absl/log's
// LOG_EVERY_N_SEC and spdlog has no rate limit of its own.
//
// Thread safety: Record may be called from any thread at once.
#ifndef COFFER_COMMON_GRPC_AUTH_REFUSAL_LOG_H_
#define COFFER_COMMON_GRPC_AUTH_REFUSAL_LOG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace coffer::grpc_util::auth {

class RefusalLog {
 public:
  struct Options {
    // At most one report per interval.
    absl::Duration interval = absl::Seconds(10);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };

  RefusalLog() : RefusalLog(Options()) {}
  explicit RefusalLog(Options options) : options_(std::move(options)) {}

  // Records that `method` was refused to `peer` with `status`. Answers the
  // line to log when a report is due, e.g.
  //   refused /coffer.v1.Storage/AddAccounts from ipv4:10.0.0.7:51234:
  //   PERMISSION_DENIED: ... (41 more calls refused since the previous report)
  // and nullopt while the refusal is only counted.
  std::optional<std::string> Record(absl::string_view method, absl::string_view peer,
                                    const absl::Status& status);

 private:
  const Options options_;
  absl::Mutex mu_;
  // The last report's time; InfinitePast before the first.
  absl::Time last_report_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Refusals counted since the last report, not in it.
  int64_t unreported_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace coffer::grpc_util::auth

#endif  // COFFER_COMMON_GRPC_AUTH_REFUSAL_LOG_H_
