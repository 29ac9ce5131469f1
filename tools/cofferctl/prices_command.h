// cofferctl prices: the prices storage holds, the latest of each asset
// (Storage.GetLatestPrices) or, with --since, their history over a time
// range (Storage.GetPriceHistory). Read-only; only storage is called.
//
//   cofferctl prices --quote usd
//   cofferctl prices --asset eip155:1/slip44:60 --since 7d
#ifndef COFFER_TOOLS_COFFERCTL_PRICES_COMMAND_H_
#define COFFER_TOOLS_COFFERCTL_PRICES_COMMAND_H_

#include <vector>

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> PricesCommands();

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_PRICES_COMMAND_H_
