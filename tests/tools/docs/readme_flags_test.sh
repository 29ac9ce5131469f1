#!/usr/bin/env bash
# The README's configuration reference lists exactly the flags the binaries
# accept: each "<!-- flags:NAME -->" section equals what the binary prints
# with --flags_markdown (tools/docs/update_readme_flags writes them).
set -euo pipefail
root="${TEST_SRCDIR:?run under bazel test}/coffer"
readme="$root/README.md"
fail=0
check() {
  local name="$1"; shift
  local expected actual
  expected="$("$@")"
  actual="$(awk -v b="<!-- flags:$name -->" -v e="<!-- /flags:$name -->" \
    '$0==e{on=0} on{print} $0==b{on=1}' "$readme")"
  if [[ "$expected" != "$actual" ]]; then
    echo "FAIL: README.md's flags:$name section differs from $1 (run tools/docs/update_readme_flags):" >&2
    diff <(echo "$actual") <(echo "$expected") >&2 || true
    fail=1
  fi
}
check shared "$root/tools/docs/flag_reference"
check storage "$root/services/storage/coffer-storage" --flags_markdown
check fetcher "$root/services/fetcher/coffer-fetcher" --flags_markdown
check scheduler "$root/services/scheduler/coffer-scheduler" --flags_markdown
check cofferctl "$root/tools/cofferctl/cofferctl" --flags_markdown
exit "$fail"
