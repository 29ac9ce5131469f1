// cofferctl status: health and Admin.GetStatus of all three services.
#ifndef COFFER_TOOLS_COFFERCTL_STATUS_COMMAND_H_
#define COFFER_TOOLS_COFFERCTL_STATUS_COMMAND_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> StatusCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_STATUS_COMMAND_H_
