// cofferctl query: an ad-hoc balance query through the fetcher, answered
// and printed, never stored. Streams the answer (Fetcher.StreamBalances) so
// a query over many accounts shows a progress bar, splits lists longer than
// one request may carry, and pins every request of a split query to one
// block per chain.
#ifndef COFFER_TOOLS_COFFERCTL_QUERY_COMMAND_H_
#define COFFER_TOOLS_COFFERCTL_QUERY_COMMAND_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> QueryCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_QUERY_COMMAND_H_
