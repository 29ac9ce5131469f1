// ChainReader for Bitcoin over an Esplora REST API. Esplora answers
// balances at its tip only, so a request resolves the tip (height and
// hash) once and every item states it; a pinned number is recorded, not
// enforced (fetcher.proto). One GET /address/{address} per account, under
// the endpoint's rate and concurrency limits, falling back across
// endpoints.
#ifndef COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_ESPLORA_CHAIN_READER_H_
#define COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_ESPLORA_CHAIN_READER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "services/fetcher/chains/chain_reader.h"
#include "services/fetcher/chains/endpoint_set.h"
#include "services/fetcher/chains/upstream_transport.h"

namespace coffer::fetcher {

struct EsploraChainOptions {
  std::string chain_id;  // normalized CAIP-2, bip122:...
  std::string name;
  std::string asset_id;  // the native asset, .../slip44:0
  std::string symbol;
  std::string price_id;
  absl::Duration request_timeout = absl::Seconds(30);
};

class EsploraChainReader : public ChainReader {
 public:
  // `endpoints` and `transport` outlive the reader.
  EsploraChainReader(EsploraChainOptions options, EndpointSet* endpoints,
                     UpstreamTransport* transport)
      : options_(std::move(options)), endpoints_(endpoints), transport_(transport) {}

  void ResolveBlock(const v1::BlockSelector& selector, bool bypass_cache, BlockDone done) override;
  void ReadBalances(std::shared_ptr<BalanceCall> call, std::vector<size_t> items,
                    const v1::BlockRef& block, bool bypass_cache) override;
  v1::ChainStatus Status() const override;
  void Probe() override;

 private:
  // GET `path` with endpoint fallback; the body of a 200, or an error.
  void Get(std::string path,
           absl::AnyInvocable<void(absl::StatusOr<std::string>, std::string upstream)> done);

  const EsploraChainOptions options_;
  EndpointSet* const endpoints_;
  UpstreamTransport* const transport_;
};

}  // namespace coffer::fetcher

#endif  // COFFER_SERVICES_FETCHER_CHAINS_BITCOIN_ESPLORA_CHAIN_READER_H_
