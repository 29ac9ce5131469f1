// cofferctl's flags that more than one command reads, and the common ones
// every command accepts. A flag only one command group reads is defined in
// that group's file. The common flags also read COFFER_<NAME> from the
// environment (common/config/flags.h): COFFER_STORAGE, COFFER_OUTPUT, ...;
// a command's own flags never do (main.cc).
#ifndef COFFER_TOOLS_COFFERCTL_FLAGS_H_
#define COFFER_TOOLS_COFFERCTL_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

// Common: where the services are, how to reach them, how to print, how long a
// call may take.
ABSL_DECLARE_FLAG(std::string, fetcher);
ABSL_DECLARE_FLAG(std::string, storage);
ABSL_DECLARE_FLAG(std::string, scheduler);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
// TLS: on with --tls_ca; --tls_cert/--tls_key for mTLS.
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_server_name);
// Bearer token: a file holding it, for services started with
// --auth_tokens_file. The token itself is never a flag (it would show in ps).
ABSL_DECLARE_FLAG(std::string, token_file);

// Shared by several commands.
ABSL_DECLARE_FLAG(std::vector<std::string>, account);
ABSL_DECLARE_FLAG(std::vector<std::string>, asset);
ABSL_DECLARE_FLAG(std::string, chain);
ABSL_DECLARE_FLAG(std::vector<std::string>, tag);
ABSL_DECLARE_FLAG(std::string, file);
ABSL_DECLARE_FLAG(std::string, since);
ABSL_DECLARE_FLAG(std::string, until);
ABSL_DECLARE_FLAG(int32_t, limit);
ABSL_DECLARE_FLAG(std::string, quote);
ABSL_DECLARE_FLAG(bool, wait);
ABSL_DECLARE_FLAG(std::string, task);
ABSL_DECLARE_FLAG(bool, force);

#endif  // COFFER_TOOLS_COFFERCTL_FLAGS_H_
