#!/usr/bin/env bash
# Smoke test of the fetcher benchmark: tools/bench/fetcher/run end to end at
# tiny sizes (300 addresses, one pass per stage, one repeat, a 1 s wrk run) against the binaries
# built for the test and the workspace's anvil. Asserts that every stage
# runs, every balance is right (run exits 2 on any wrong balance, failed call
# or fetcher that does not stop cleanly) and the Markdown report holds every
# row; never any speed, so the verdict (exit 0 or 1) is not checked. Skips
# when anvil is not installed, unless COFFER_REQUIRE_PEERS is set.
set -euo pipefail

# shellcheck source=tests/tools/bench/bench_test_env.sh
source "${TEST_SRCDIR:?run under bazel test}/coffer/tests/tools/bench/bench_test_env.sh"
find_anvil tools/bench/fetcher/run

status=0
TMPDIR="$tmp" COFFER_ANVIL="$anvil" "$root/tools/bench/fetcher/run" --bin_dir "$root" \
  --addresses 300 --queries_per_call 100 --in_flight 2 --repeats 1 --wrk_duration 1s \
  --min_seconds 0 \
  --markdown "$tmp/report.md" >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
cat "$tmp/stderr" "$tmp/stdout"
[[ $status -eq 0 || $status -eq 1 ]] || fail "run exited with $status"

report="$tmp/report.md"
[[ -s "$report" ]] || fail "no Markdown report"
grep -q '^\*\*Verdict: ' "$report" || fail "no verdict in the report"
grep -q '^### Balances of 300 addresses' "$report" || fail "not 300 addresses"
for stage in a b c d d_500 e_eth_call e_multicall e_scanner f f_batched; do
  grep -Eq "^\| $stage \| [^|]+ \| [0-9]+ \| [0-9]+ \|" "$report" || fail "no row for stage $stage"
done
grep -Eq '^Ratios: c/a = \*\*[0-9.]+\*\*, d/b = \*\*[0-9.]+\*\*, c/f = \*\*[0-9.]+\*\*' "$report" ||
  fail "no ratios"
grep -Eq '^Ratios: .*d/f_batched = \*\*[0-9.]+\*\*' "$report" || fail "no ratio to the batched ceiling"
# wrk's stages report the node's CPU per balance too.
[[ $(grep -Ec '^  f(_batched)? +repeat .*"node_cpu_us_per_balance":[0-9.]+' "$tmp/stderr") -eq 2 ]] ||
  fail "no node CPU for the wrk stages"
# Every measured pass read and checked all 300 balances without an error.
[[ $(grep -Ec '"balances":300,.*"node_cpu_us_per_balance":[0-9.]+,.*"errors":0\}' "$tmp/stderr") -eq 6 ]] ||
  fail "not every fetcher stage read 300 balances without errors"
[[ $(grep -Ec '"balances": 300, .*"node_cpu_us_per_balance": [0-9.]+, .*"errors": 0\}' "$tmp/stderr") -eq 2 ]] ||
  fail "not every baseline stage read 300 balances without errors"
echo PASS
