#include "tools/cofferctl/command_list.h"

#include "tools/cofferctl/status_command.h"

namespace coffer::cofferctl {
namespace {

void Append(std::vector<Command>& to, std::vector<Command> commands) {
  for (Command& command : commands) to.push_back(std::move(command));
}

}  // namespace

std::vector<Command> AllCommands() {
  std::vector<Command> commands;
  Append(commands, StatusCommands());
  return commands;
}

}  // namespace coffer::cofferctl
