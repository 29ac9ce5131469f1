// The task `cofferctl tasks create` asks for, read from its flags: kind,
// schedule, run retention and the kind's parameters (--batch_size for
// refresh_balances, --backup_path for backup, ...). A parameter flag given
// for another kind is a usage error, not a setting silently dropped.
#ifndef COFFER_TOOLS_COFFERCTL_TASK_FROM_FLAGS_H_
#define COFFER_TOOLS_COFFERCTL_TASK_FROM_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "coffer/v1/scheduler.pb.h"

// Also `tasks ls`'s filter.
ABSL_DECLARE_FLAG(std::string, kind);

namespace coffer::cofferctl {

// "refresh_balances" for TASK_KIND_REFRESH_BALANCES: what --kind takes.
std::string KindName(v1::TaskKind kind);
// --kind: "refresh_balances", "refresh-balances", "REFRESH_BALANCES" or
// the enum's full name; a usage error otherwise.
absl::StatusOr<v1::TaskKind> ParseKind(absl::string_view text);

// The task the flags describe, without a task id (the command's argument).
absl::StatusOr<v1::Task> TaskFromFlags();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_TASK_FROM_FLAGS_H_
