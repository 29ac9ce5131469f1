#include "services/storage/repos/digest.h"

#include <openssl/evp.h>

namespace coffer::storage {

absl::StatusOr<std::string> Sha256(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace coffer::storage
