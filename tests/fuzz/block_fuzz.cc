// Fuzz target for eth_getBlockByNumber answers (evm::ParseBlock): never a
// crash, only the documented codes, and an accepted block is what its text
// said (number and, when there, a canonical hash).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "services/fetcher/chains/evm/block.h"

namespace {

namespace evm = coffer::fetcher::evm;

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" const char* const* CofferFuzzSeeds(size_t* count) {
  static const char* const kSeeds[] = {
      R"({"number":"0x10d4f","hash":"0x6a2b3c9f1e0d4c5b8a7968574635241302f1e0d9c8b7a6958473625140312abc","timestamp":"0x6560a1b0"})",
      R"({"number":"0x0","hash":null,"timestamp":null,"transactions":[{"hash":"0x1"}]})",
      R"(null)",
      R"({"number":18446744073709551615,"hash":"0x","timestamp":-1})",
      R"({"number":"0xffffffffffffffff","timestamp":"0xfffffffffff"})",
  };
  *count = std::size(kSeeds);
  return kSeeds;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<coffer::v1::BlockRef> block = evm::ParseBlock(json, "eip155:1", "latest");
  if (!block.ok()) {
    Check(block.status().code() == absl::StatusCode::kDataLoss ||
          block.status().code() == absl::StatusCode::kOutOfRange);
    return 0;
  }
  Check(block->chain_id() == "eip155:1");
  Check(block->hash().empty() || block->hash().size() == 66);
  for (size_t i = 2; i < block->hash().size(); ++i) {
    const char c = block->hash()[i];
    Check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  Check(block->time().seconds() >= 0 && block->time().seconds() <= 253402300799);
  return 0;
}
