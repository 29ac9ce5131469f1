// Wiping buffers that held secrets (a database key, a private key file,
// bearer tokens), so that the bytes do not linger in freed heap memory or a
// core dump.
#ifndef COFFER_COMMON_SECRET_WIPE_H_
#define COFFER_COMMON_SECRET_WIPE_H_

#include <string>

namespace coffer::secret {

// Overwrites every byte of `s`'s buffer (its whole capacity) with zeros
// (explicit_bzero: not optimized away), then empties it.
void WipeString(std::string& s);

}  // namespace coffer::secret

#endif  // COFFER_COMMON_SECRET_WIPE_H_
