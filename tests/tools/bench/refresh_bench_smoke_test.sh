#!/usr/bin/env bash
# Smoke test of the refresh benchmark: tools/bench/refresh/run end to end at
# 200 accounts with ether and the test token (one repeat, two batch sizes),
# against the binaries built for
# the test and the workspace's anvil. Asserts that every side runs, every
# balance is right (run exits 2 on any wrong balance, failed call or run, a
# stage the scheduler did not record exactly once, or a service that does
# not stop cleanly), that coffer's stages come from the scheduler's metrics,
# and that the Markdown report holds every row; never any speed, so the
# verdict (exit 0 or 1) is not checked. Skips when anvil is not installed,
# unless COFFER_REQUIRE_PEERS is set.
set -euo pipefail

# shellcheck source=tests/tools/bench/bench_test_env.sh
source "${TEST_SRCDIR:?run under bazel test}/coffer/tests/tools/bench/bench_test_env.sh"
find_anvil tools/bench/refresh/run

status=0
TMPDIR="$tmp" COFFER_ANVIL="$anvil" "$root/tools/bench/refresh/run" --bin_dir "$root" \
  --addresses 200 --assets ether+token --repeats 1 --batch_sizes "50 200" --in_flight 2 \
  --markdown "$tmp/report.md" >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
cat "$tmp/stderr" "$tmp/stdout"
[[ $status -eq 0 || $status -eq 1 ]] || fail "run exited with $status"

report="$tmp/report.md"
[[ -s "$report" ]] || fail "no Markdown report"
grep -q '^\*\*Verdict: ' "$report" || fail "no verdict in the report"
grep -q '^### Refresh of 200 accounts (400 balances)' "$report" || fail "not 200 accounts"
number='[0-9]+\.[0-9]+'
for side in python_sqlcipher python_sqlite3 coffer_b50 coffer_b200 direct_b50; do
  # seconds, per repeat, then list accounts, fetch and write, all measured.
  grep -Eq "^\| $side \| [^|]+ \| $number \| $number \| $number \| $number \| $number \|" \
    "$report" || fail "no full row for $side"
done
grep -Eq '^Ratios .*python_sqlcipher/coffer_b50 = \*\*[0-9.]+\*\* \(judged\)' "$report" ||
  fail "no judged ratio"

# Every refresh read and checked 400 balances without an error: 2 baseline
# refreshes, 2 warm-up and 2 measured triggers and one direct run.
[[ $(grep -Ec '"items": 400, .*"errors": 0\}' "$tmp/stderr") -eq 2 ]] ||
  fail "not every baseline refresh wrote 400 right balances"
[[ $(grep -Ec '^  (warm-up +b|coffer_b|direct_b).*"accounts":200,"items":400,.*"errors":0\}' "$tmp/stderr") -eq 5 ]] ||
  fail "not every coffer run wrote 400 right balances"
# Scaling, capped at the 200 accounts: a warm-up and a measured refresh of
# the tagged 200 and of the one, each right.
[[ $(grep -Ec '^  (warm-up +few|scaling_few +repeat 1) +\{"run_id".*"accounts":200,"items":400,.*"errors":0\}' "$tmp/stderr") -eq 2 ]] ||
  fail "no right refresh of the tagged accounts"
[[ $(grep -Ec '^  (warm-up +one|scaling_one +repeat 1) +\{"run_id".*"accounts":1,"items":2,.*"errors":0\}' "$tmp/stderr") -eq 2 ]] ||
  fail "no right refresh of the one tagged account"
grep -Eq '^Scaling \(issue 6: .*: 200 accounts [0-9.]+ s, one account [0-9.]+ s: \*\*[0-9.]+x\*\*' "$report" ||
  fail "no scaling line in the report"
# Storage's idle-time upkeep was waited out after each measured trigger.
[[ $(grep -Ec '^  upkeep_b(50|200) +repeat 1 +\{"settle_seconds":[0-9.]+,"coffer_storage_writer_upkeep_due":0\}' "$tmp/stderr") -eq 2 ]] ||
  fail "no settle after each measured trigger"
grep -q '^Deferred upkeep: ' "$report" || fail "no deferred upkeep in the report"
# coffer's stages, from Admin.GetMetrics: each took time, as did the node
# (collect: listing and fetching as they overlapped).
stages=$(grep -E '^  (coffer_b(50|200)|direct_b50) +repeat' "$tmp/stderr")
[[ $(grep -Ec '"list_accounts_seconds":0\.[0-9]*[1-9][0-9]*,"fetch_seconds":[0-9.]*[1-9][0-9]*,"collect_seconds":[0-9.]*[1-9][0-9]*,"write_seconds":[0-9.]*[1-9]' <<<"$stages") -eq 3 ]] ||
  fail "a coffer stage is missing or zero in the scheduler's metrics"
# batch_size 50 makes four fetcher calls for 200 accounts, 200 one.
grep -Eq '^  coffer_b50 +repeat 1 +\{.*"batches":4,' "$tmp/stderr" || fail "batch_size 50 did not make 4 calls"
grep -Eq '^  coffer_b200 +repeat 1 +\{.*"batches":1,' "$tmp/stderr" || fail "batch_size 200 did not make 1 call"
echo PASS
