// cofferctl accounts add|rm|ls: registering, unregistering and listing the
// tracked accounts through Storage.AddAccounts, RemoveAccounts and
// ListAccounts.
//
// Inputs of any size: ids from arguments, --file or stdin are sent in calls
// of at most 10,000 (the API's limit per call) and the answers merged, so
// `--output json` is one AddAccountsResponse / RemoveAccountsResponse for
// the whole input, and `ls` one ListAccountsResponse holding every page.
// Items the API rejects one by one (a malformed address) are listed with
// their error and make the exit status 1; the others are still written.
#ifndef COFFER_TOOLS_COFFERCTL_ACCOUNTS_COMMANDS_H_
#define COFFER_TOOLS_COFFERCTL_ACCOUNTS_COMMANDS_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> AccountsCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_ACCOUNTS_COMMANDS_H_
