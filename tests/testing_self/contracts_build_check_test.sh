#!/usr/bin/env bash
# tools/contracts/out is what tools/contracts/build makes from the sources
# (the checked-in bytecode matches its Solidity), and --check notices a
# stale artifact. Needs node and the npm peers in the source tree's
# tools/npm/node_modules (tools/bootstrap): without them the test skips,
# unless COFFER_REQUIRE_PEERS is set, when it fails.
set -euo pipefail

BUILD="$TEST_SRCDIR/coffer/tools/contracts/build"
ROOT="$(cd "$(dirname "$(realpath "$BUILD")")/../.." && pwd)"

missing=""
if ! command -v node >/dev/null 2>&1; then missing="node is not on PATH"; fi
if [[ ! -f "$ROOT/tools/npm/node_modules/solc/package.json" ]]; then
  missing="solc-js is not installed under $ROOT/tools/npm/node_modules"
fi
if [[ -n "$missing" ]]; then
  if [[ -n "${COFFER_REQUIRE_PEERS:-}" && "${COFFER_REQUIRE_PEERS}" != "0" ]]; then
    echo "FAIL: $missing (run tools/bootstrap)" >&2
    exit 1
  fi
  echo "SKIP: $missing (run tools/bootstrap; COFFER_REQUIRE_PEERS=1 makes this fail)" >&2
  exit 0
fi

"$BUILD" --check

stale="$TEST_TMPDIR/stale"
cp -r "$ROOT/tools/contracts/out" "$stale"
chmod -R u+w "$stale"
printf '00\n' >>"$stale/BalanceScanner.bin"
if "$BUILD" --check --against="$stale" 2>"$TEST_TMPDIR/check.log"; then
  echo "FAIL: --check accepted a stale BalanceScanner.bin" >&2
  exit 1
fi
grep -q "is stale" "$TEST_TMPDIR/check.log"
echo "PASS"
