#!/usr/bin/env bash
# tools/trim_disk_cache against a fake cache of sparse files (sizes count as
# they do for Bazel's, without using the disk): within the limit nothing
# goes; over it, the files read longest ago go until the cache is under
# three quarters of the limit; --dry-run only lists; a bad limit is refused.
set -euo pipefail
TRIM="${1:-${TEST_SRCDIR:-}/coffer/tools/trim_disk_cache}"
home="${TEST_TMPDIR:-$(mktemp -d)}/home"
cache="$home/.cache/coffer/bazel-disk"
fail() { echo "FAIL: $*" >&2; exit 1; }

# FILE MiB AGE: a sparse file of that apparent size, last read AGE ago.
entry() {
  mkdir -p "$(dirname "$cache/$1")"
  truncate -s "${2}M" "$cache/$1"
  touch -a -d "$3" "$cache/$1"
}
rm -rf "$home"
entry cas/aa/oldest 512 "3 days ago"
entry ac/bb/older 512 "2 days ago"
entry cas/cc/newest 512 "1 hour ago"

# 1.5 GB within a 2 GB limit: nothing deleted, nothing said.
out=$(HOME="$home" "$TRIM" --limit 2 2>&1)
[[ -z "$out" ]] || fail "within the limit it said: $out"
[[ $(find "$cache" -type f | wc -l) == 3 ]] || fail "within the limit a file went"

# --dry-run over a 1 GB limit lists the two oldest and deletes nothing.
listed=$(HOME="$home" "$TRIM" --limit 1 --dry-run 2>/dev/null)
[[ "$listed" == "$cache/cas/aa/oldest"$'\n'"$cache/ac/bb/older" ]] ||
  fail "--dry-run listed: $listed"
[[ $(find "$cache" -type f | wc -l) == 3 ]] || fail "--dry-run deleted"

# Over it (COFFER_DISK_CACHE_GB=1): down to 0.5 GB, under 0.75 GB.
said=$(HOME="$home" COFFER_DISK_CACHE_GB=1 "$TRIM" 2>&1)
[[ -f "$cache/cas/cc/newest" ]] || fail "the newest file went"
[[ ! -e "$cache/cas/aa/oldest" && ! -e "$cache/ac/bb/older" ]] || fail "an old file stayed"
grep -q "deleted 2 files, 1.0 GB" <<<"$said" || fail "it said: $said"

# Bad limits are usage errors.
for bad in 0 x -1; do
  code=0
  HOME="$home" "$TRIM" --limit "$bad" 2>/dev/null || code=$?
  [[ $code == 2 ]] || fail "--limit $bad exited $code"
done

# No cache at all: nothing to do.
HOME="$home/none" "$TRIM" || fail "a missing cache is an error"
echo PASS
