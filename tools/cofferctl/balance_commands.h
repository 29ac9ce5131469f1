// cofferctl balances, portfolio and history: what storage holds about the
// tracked accounts' balances, read with Storage.GetLatestBalances,
// GetPortfolio and GetBalanceHistory. Read-only; only storage is called.
//
//   cofferctl balances --chain eip155:1
//   cofferctl portfolio --quote usd
//   cofferctl history --account eip155:1:0xAb58... --since 7d
#ifndef COFFER_TOOLS_COFFERCTL_BALANCE_COMMANDS_H_
#define COFFER_TOOLS_COFFERCTL_BALANCE_COMMANDS_H_

#include <string>
#include <vector>

#include "coffer/v1/common.pb.h"
#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<Command> BalanceCommands();

// `part` as a percent of `total` to one decimal, rounded half up, computed
// exactly from the two amounts ("62.5%"); "<0.1%" for a non-zero part that
// rounds to zero, "-" when total is zero, "?" for a malformed amount. The
// portfolio's SHARE column: PortfolioAsset.share is a double, which can
// round the last digit the wrong way.
std::string SharePercent(const v1::Amount& part, const v1::Amount& total);

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_BALANCE_COMMANDS_H_
