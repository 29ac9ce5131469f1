// cofferctl tasks: list, create, pause, resume, trigger and delete the
// scheduler's tasks (Scheduler.ListTasks, CreateTask, PauseTask, ResumeTask,
// TriggerTask, DeleteTask). `tasks trigger --wait` follows the run it
// started to its end, with a progress bar, and exits by its outcome.
#ifndef COFFER_TOOLS_COFFERCTL_TASKS_COMMANDS_H_
#define COFFER_TOOLS_COFFERCTL_TASKS_COMMANDS_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> TasksCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_TASKS_COMMANDS_H_
