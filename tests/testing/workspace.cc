#include "tests/testing/workspace.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace coffer::testing {
namespace {

// A file of this package listed in the library's `data`: present in every
// dependent test's runfiles as a link to the source tree.
constexpr absl::string_view kMarker = "tests/testing/workspace.h";

std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return "";
  return resolved;
}

}  // namespace

std::string WorkspaceRoot() {
  if (const char* srcdir = std::getenv("TEST_SRCDIR"); srcdir != nullptr) {
    std::string marker = RealPath(absl::StrCat(srcdir, "/coffer/", kMarker));
    if (absl::EndsWith(marker, absl::StrCat("/", kMarker))) {
      return marker.substr(0, marker.size() - kMarker.size() - 1);
    }
  }
  if (const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY"); workspace != nullptr) {
    return workspace;
  }
  return RealPath(".");
}

bool PeersRequired() {
  const char* value = std::getenv("COFFER_REQUIRE_PEERS");
  return value != nullptr && std::string_view(value) != "" && std::string_view(value) != "0";
}

}  // namespace coffer::testing
