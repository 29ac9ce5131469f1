#!/usr/bin/env bash
# Smoke test of the storage benchmark: tools/bench/storage/run at tiny sizes
# (2,000 rows, 10 accounts, 10-item snapshots, runs of a few hundred ms)
# against the binaries built for the test. Asserts that every stage runs,
# every server stops cleanly on SIGTERM, no call fails (run exits 2 on any of
# these) and the Markdown report holds every row; never any speed, so the
# verdict (exit 0 or 1) is not checked.
set -euo pipefail

root="${TEST_SRCDIR:?run under bazel test}/coffer"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

status=0
TMPDIR="$tmp" "$root/tools/bench/storage/run" --bin_dir "$root" \
  --duration 300ms --warmup 100ms --repeats 2 --writers "1 4" --snapshot_items 10 \
  --transaction_rows 100 --accounts 10 --assets 2 --rows 2000 --read_concurrency "1 2" \
  --read_duration 200ms --read_repeats 1 --min_calls 1 --markdown "$tmp/report.md" \
  >"$tmp/stdout" 2>"$tmp/stderr" || status=$?
cat "$tmp/stderr" "$tmp/stdout"
[[ $status -eq 0 || $status -eq 1 ]] || fail "run exited with $status"

report="$tmp/report.md"
[[ -s "$report" ]] || fail "no Markdown report"
grep -q '^\*\*Verdict: ' "$report" || fail "no verdict in the report"
grep -Eq '^\(a\) raw SQLCipher, 100-row transactions: \*\*[0-9]+ rows/s\*\*' "$report" ||
  fail "no raw insert rate"
for writers in 1 4; do
  grep -Eq "^\| $writers \| [0-9]+ \| [0-9.]+ \| [0-9.]+ [0-9.]+ \|" "$report" ||
    fail "no write row for $writers writers (two repeats)"
done
grep -q '^### Reads at 2000 stored rows' "$report" || fail "reads not at 2,000 rows"
for kind in latest latest_filtered history; do
  for concurrency in 1 2; do
    grep -Eq "^\| $kind \| $concurrency \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9.]+ \|" \
      "$report" || fail "no read row for $kind at $concurrency in flight"
  done
done
# A page of latest balances holds 20 rows here (10 accounts x 2 assets), a
# history page 100 (an account's 200 points): the reads answered real data.
grep -Eq '^\| latest \| 1 \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9]+ \| 20\.0 \|' "$report" ||
  fail "latest balances did not answer every (account, asset)"
grep -Eq '^\| history \| 1 \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9]+ \| 100\.0 \|' "$report" ||
  fail "history did not answer full pages"
[[ $(grep -c 'coffer-storage exited' "$tmp/stderr") -eq 0 ]] || fail "a server exited badly"
echo PASS
