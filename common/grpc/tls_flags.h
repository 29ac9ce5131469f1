// The TLS flags of every coffer service: --tls_cert, --tls_key, --tls_ca
// (each also read from COFFER_TLS_CERT, ...). A service serves with them
// (ServiceHost); a service that calls others (the scheduler) presents the
// same certificate and trusts the same CA on its calls.
#ifndef COFFER_COMMON_GRPC_TLS_FLAGS_H_
#define COFFER_COMMON_GRPC_TLS_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"

#include "common/grpc/tls_config.h"

ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_ca);

namespace coffer::grpc_util {

// The files the flags name; call after flags are parsed.
TlsFiles TlsFilesFromFlags();

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_TLS_FLAGS_H_
