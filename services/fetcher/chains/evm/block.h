// The block of an eth_getBlockByNumber answer: what an EVM read is pinned
// to (number and hash) and when it was made.
//
//   ASSIGN_OR_RETURN(v1::BlockRef block,
//                    evm::ParseBlock(result_json, "eip155:1", /*asked=*/"latest"));
//
// The answer comes from an untrusted node: anything but an object with a
// "number" quantity is DATA_LOSS naming the field, and so are a "hash" that
// is not "0x" and 64 hex digits and a "timestamp" that is not a quantity
// (either may be missing: BlockRef then leaves it empty, as common.proto
// says). JSON null (the node does not know the block) is OUT_OF_RANGE
// naming what was asked.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_EVM_BLOCK_H_
#define COFFER_SERVICES_FETCHER_CHAINS_EVM_BLOCK_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "coffer/v1/common.pb.h"

namespace coffer::fetcher::evm {

// `json` is the call's "result" as JSON text; `chain_id` goes into the
// answer; `asked` is the block parameter sent ("latest", "0x10"), for the
// message when the node does not know it.
[[nodiscard]] absl::StatusOr<v1::BlockRef> ParseBlock(absl::string_view json,
                                                      const std::string& chain_id,
                                                      absl::string_view asked);

}  // namespace coffer::fetcher::evm

#endif  // COFFER_SERVICES_FETCHER_CHAINS_EVM_BLOCK_H_
