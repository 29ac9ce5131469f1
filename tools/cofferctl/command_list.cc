#include "tools/cofferctl/command_list.h"

#include "tools/cofferctl/accounts_commands.h"
#include "tools/cofferctl/balance_commands.h"
#include "tools/cofferctl/metrics_command.h"
#include "tools/cofferctl/prices_command.h"
#include "tools/cofferctl/query_command.h"
#include "tools/cofferctl/runs_commands.h"
#include "tools/cofferctl/status_command.h"
#include "tools/cofferctl/tasks_commands.h"

namespace coffer::cofferctl {
namespace {

void Append(std::vector<Command>& to, std::vector<Command> commands) {
  for (Command& command : commands) to.push_back(std::move(command));
}

}  // namespace

std::vector<Command> AllCommands() {
  std::vector<Command> commands;
  Append(commands, StatusCommands());
  Append(commands, AccountsCommands());
  Append(commands, BalanceCommands());
  Append(commands, PricesCommands());
  Append(commands, TasksCommands());
  Append(commands, RunsCommands());
  Append(commands, QueryCommands());
  Append(commands, MetricsCommands());
  return commands;
}

}  // namespace coffer::cofferctl
