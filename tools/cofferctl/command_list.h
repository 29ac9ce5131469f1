// Every cofferctl command, in the order `cofferctl --help` lists them.
#ifndef COFFER_TOOLS_COFFERCTL_COMMAND_LIST_H_
#define COFFER_TOOLS_COFFERCTL_COMMAND_LIST_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> AllCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_COMMAND_LIST_H_
