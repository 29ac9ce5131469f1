// cofferctl runs: the scheduler's run records and live runs (Scheduler.
// ListRuns, WatchRuns, CancelRun): list them, follow them as they happen,
// cancel one.
#ifndef COFFER_TOOLS_COFFERCTL_RUNS_COMMANDS_H_
#define COFFER_TOOLS_COFFERCTL_RUNS_COMMANDS_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> RunsCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_RUNS_COMMANDS_H_
