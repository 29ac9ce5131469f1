#include "common/secret/wipe.h"

#include <string.h>

namespace coffer::secret {

void WipeString(std::string& s) {
  // Writing through data() is defined up to size(): grow to the capacity
  // first so that the bytes past the end are covered too (no reallocation).
  s.resize(s.capacity());
  if (!s.empty()) explicit_bzero(s.data(), s.size());
  s.clear();
}

}  // namespace coffer::secret
