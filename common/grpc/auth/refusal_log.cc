#include "common/grpc/auth/refusal_log.h"

#include "absl/strings/str_cat.h"

namespace coffer::grpc_util::auth {

std::optional<std::string> RefusalLog::Record(absl::string_view method, absl::string_view peer,
                                              const absl::Status& status) {
  const absl::Time now = options_.clock();
  int64_t earlier = 0;
  {
    absl::MutexLock lock(&mu_);
    if (now - last_report_ < options_.interval) {
      ++unreported_;
      return std::nullopt;
    }
    earlier = unreported_;
    unreported_ = 0;
    last_report_ = now;
  }
  std::string line = absl::StrCat("refused ", method, " from ", peer, ": ", status.ToString());
  if (earlier > 0) {
    absl::StrAppend(&line, " (", earlier, " more call", earlier == 1 ? "" : "s",
                    " refused since the previous report)");
  }
  return line;
}

}  // namespace coffer::grpc_util::auth
