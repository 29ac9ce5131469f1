// How repositories show an id inside an error message: quoted and escaped,
// and cut short when it is too long to be one.
#ifndef COFFER_SERVICES_STORAGE_REPOS_QUOTED_H_
#define COFFER_SERVICES_STORAGE_REPOS_QUOTED_H_

#include <string>

#include "absl/strings/string_view.h"

namespace coffer::storage {

std::string Quoted(absl::string_view id);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_QUOTED_H_
