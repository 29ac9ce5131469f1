#include "common/exec/thread_name.h"

#include <pthread.h>

#include <algorithm>

namespace coffer::exec {

std::string ThreadName(std::string_view base, std::string_view suffix) {
  suffix = suffix.substr(0, kMaxThreadNameLength);
  const size_t base_room = kMaxThreadNameLength - suffix.size();
  std::string name(base.substr(0, std::min(base.size(), base_room)));
  name.append(suffix);
  return name;
}

void SetCurrentThreadName(std::string_view name) {
  const std::string truncated = ThreadName(name);
  // Naming is a debugging aid: a failure is not worth reporting.
  (void)pthread_setname_np(pthread_self(), truncated.c_str());
}

}  // namespace coffer::exec
