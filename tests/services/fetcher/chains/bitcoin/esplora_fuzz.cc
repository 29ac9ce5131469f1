// Fuzz target for the Esplora response parsers: any bytes must give a
// value or a DATA_LOSS status, never a crash, a sanitizer report or an
// exception. Built with tests/fuzz's driver (or libFuzzer).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "services/fetcher/chains/bitcoin/esplora.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  for (absl::string_view expected :
       {absl::string_view(), absl::string_view("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")}) {
    absl::StatusOr<coffer::fetcher::EsploraAddressBalance> balance =
        coffer::fetcher::ParseEsploraAddress(body, expected);
    if (!balance.ok() && balance.status().code() != absl::StatusCode::kDataLoss) std::abort();
    if (balance.ok() && (balance->confirmed.empty() || balance->unconfirmed_incoming.empty() ||
                         balance->unconfirmed_outgoing.empty())) {
      std::abort();
    }
  }
  absl::StatusOr<uint64_t> height = coffer::fetcher::ParseEsploraTipHeight(body);
  if (!height.ok() && height.status().code() != absl::StatusCode::kDataLoss) std::abort();
  absl::StatusOr<std::string> hash = coffer::fetcher::ParseEsploraTipHash(body);
  if (hash.ok() && hash->size() != 64) std::abort();
  return 0;
}
