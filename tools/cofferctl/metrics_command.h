// cofferctl metrics: Admin.GetMetrics of the services, as one table for
// people or one JSON document for scripts.
#ifndef COFFER_TOOLS_COFFERCTL_METRICS_COMMAND_H_
#define COFFER_TOOLS_COFFERCTL_METRICS_COMMAND_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> MetricsCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_METRICS_COMMAND_H_
