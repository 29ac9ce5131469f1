#ifndef COFFER_COMMON_EXEC_THREAD_NAME_H_
#define COFFER_COMMON_EXEC_THREAD_NAME_H_

#include <string>
#include <string_view>

namespace coffer::exec {

// Linux keeps at most this many characters of a thread's name (16 bytes with
// the terminating NUL); pthread_setname_np fails outright on longer names.
inline constexpr size_t kMaxThreadNameLength = 15;

// Returns `base` + `suffix`, shortening `base` rather than `suffix` so that
// the names of a pool's threads ("storage-read-3") stay distinct after
// truncation to kMaxThreadNameLength.
std::string ThreadName(std::string_view base, std::string_view suffix = "");

// Names the calling thread as seen by top -H, gdb and /proc/<pid>/task/*/comm.
// Truncates to kMaxThreadNameLength.
void SetCurrentThreadName(std::string_view name);

}  // namespace coffer::exec

#endif  // COFFER_COMMON_EXEC_THREAD_NAME_H_
