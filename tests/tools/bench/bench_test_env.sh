# What the benchmark smoke tests share, sourced after `set -euo pipefail`:
# the runfiles root, a temporary directory, fail, and the workspace's anvil.
#
#   source "${TEST_SRCDIR:?run under bazel test}/coffer/tests/tools/bench/bench_test_env.sh"
#   find_anvil tools/bench/refresh/run   # sets $anvil, or exits 0 with SKIP

root="${TEST_SRCDIR:?run under bazel test}/coffer"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Sets `anvil` to the anvil tools/bootstrap installs beside the sources
# (found through the runfiles' link to RUN, a script of the source tree), or
# $COFFER_ANVIL. Without one the test is skipped (exit 0), unless
# COFFER_REQUIRE_PEERS is set.
find_anvil() {
  local source_root
  source_root="$(cd "$(dirname "$(readlink -f "$root/$1")")/../../.." && pwd)"
  anvil="${COFFER_ANVIL:-$source_root/tools/npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
  if [[ ! -x "$anvil" ]]; then
    [[ -z "${COFFER_REQUIRE_PEERS:-}" ]] || fail "no anvil at $anvil"
    echo "SKIP: no anvil at $anvil (tools/bootstrap installs it)"
    exit 0
  fi
}
