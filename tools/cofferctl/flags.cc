#include "tools/cofferctl/flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, fetcher, "127.0.0.1:50051", "Address of coffer-fetcher (HOST:PORT)");
ABSL_FLAG(std::string, storage, "127.0.0.1:50052", "Address of coffer-storage (HOST:PORT)");
ABSL_FLAG(std::string, scheduler, "127.0.0.1:50053", "Address of coffer-scheduler (HOST:PORT)");
ABSL_FLAG(std::string, output, "table", "Output format: table (for people) or json (for scripts)");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10),
          "Deadline of each call (a waited-for run or a watch has its own, see their help)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle to verify the services against; setting it turns TLS on");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate presented to services that require one (mTLS; needs --tls_ca)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert (a file path)");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name checked in the services' certificates instead of the host of their address");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token sent to services that require one (--auth_tokens_file)");

ABSL_FLAG(std::vector<std::string>, account, {},
          "Account ids (CAIP-10, e.g. eip155:1:0xabc...), comma-separated");
ABSL_FLAG(std::vector<std::string>, asset, {},
          "Asset ids (CAIP-19, e.g. eip155:1/slip44:60), comma-separated");
ABSL_FLAG(std::string, chain, "",
          "Chain id (CAIP-2, e.g. eip155:1 or bip122:000000000019d6689c085ae165831e93)");
ABSL_FLAG(std::vector<std::string>, tag, {}, "Tags, comma-separated");
ABSL_FLAG(std::string, file, "", "Read the ids from this file instead of the arguments");
ABSL_FLAG(std::string, since, "",
          "Start of the time range: RFC 3339, a date (2026-11-01) or an age (24h, 7d)");
ABSL_FLAG(std::string, until, "", "End of the time range (same forms as --since); empty: now");
ABSL_FLAG(int32_t, limit, 0, "At most this many rows (0: the command's default)");
ABSL_FLAG(std::string, quote, "usd", "Quote currency of prices and values");
ABSL_FLAG(bool, wait, false, "Wait until the work has ended, with a progress bar on a terminal");
ABSL_FLAG(std::string, task, "", "Task id");
ABSL_FLAG(bool, force, false, "Bypass the fetcher's caches (fresh reads from the upstreams)");
