// Where the workspace's source tree is, seen from a test. Test peers that
// Bazel does not build (node, tools/npm/node_modules: anvil, solc-js) live
// there, outside any runfiles tree. The root is found through the real path
// of a runfile of this library, which Bazel links back to the source tree
// (the sandbox does not hide it); BUILD_WORKSPACE_DIRECTORY (bazel run) and
// the current directory are fallbacks for binaries run by hand.
//
//   std::string anvil = absl::StrCat(WorkspaceRoot(), "/tools/npm/...");
#ifndef COFFER_TESTS_TESTING_WORKSPACE_H_
#define COFFER_TESTS_TESTING_WORKSPACE_H_

#include <string>

namespace coffer::testing {

// The absolute path of the workspace root, without a trailing slash.
std::string WorkspaceRoot();

// True when COFFER_REQUIRE_PEERS is set to anything but "" or "0": tests
// whose peers (anvil, node) are missing must then fail instead of skipping.
// tools/test sets it; pass it to Bazel with --test_env=COFFER_REQUIRE_PEERS=1.
bool PeersRequired();

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_WORKSPACE_H_
