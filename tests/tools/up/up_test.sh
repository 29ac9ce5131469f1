#!/usr/bin/env bash
# tools/up end to end, as a person runs it: in a temporary directory, with
# the binaries of this build (--bin) and no bootstrap. Waits for the
# portfolio, checks that the balances and the portfolio name every funded
# anvil account with its 10000 ETH and the test token's holdings, then sends
# SIGINT to tools/up's process group (a Ctrl-C) and checks that tools/up
# exits 0, that every process it started has exited and that none of its
# ports is still listening. Twice: the second run starts on the first one's
# data directory (accounts already registered, a token deployed anew).
# Skipped (exit 0) without anvil unless COFFER_REQUIRE_PEERS is set.
set -euo pipefail

root="${TEST_SRCDIR:?run under bazel test}/coffer"
work="$(mktemp -d "${TEST_TMPDIR:-/tmp}/up.XXXXXX")"
up="$root/tools/up"
log=""
up_pid=""

fail() {
  echo "FAIL: $*" >&2
  if [[ -f "$log" ]]; then
    echo "--- tools/up's output ($log):" >&2
    cat "$log" >&2
  fi
  for name in anvil storage fetcher scheduler; do
    if [[ -f "$work/data/logs/$name.log" ]]; then
      echo "--- the end of $name.log:" >&2
      tail -n 20 "$work/data/logs/$name.log" >&2
    fi
  done
  exit 1
}

# The pids tools/up reported starting ("==> started NAME (pid N, ...").
started_pids() { sed -n 's/^==> started [a-z]* (pid \([0-9]*\),.*/\1/p' "$log"; }

cleanup() {
  # After a failure nothing of tools/up may outlive the test: neither its
  # process group nor the processes it started (each in a session of its
  # own).
  if [[ -n "$up_pid" ]]; then
    kill -KILL -- "-$up_pid" 2>/dev/null || true
    for pid in $(started_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  fi
}
trap cleanup EXIT

# The anvil tools/bootstrap installs beside the sources (found, as tools/up
# finds it, through the runfiles' link to the source tree), or $COFFER_ANVIL.
source_root="$(cd "$(dirname "$(readlink -f "$up")")/.." && pwd)"
anvil="${COFFER_ANVIL:-$source_root/tools/npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
if [[ ! -x "$anvil" ]]; then
  [[ -z "${COFFER_REQUIRE_PEERS:-}" ]] || fail "no anvil at $anvil"
  echo "SKIP: no anvil at $anvil (tools/bootstrap installs it)"
  exit 0
fi

listening() { [[ -n "$(ss -ltnH "sport = :$1")" ]]; }

# Sets base (with base+1 and base+2 free too) and anvil_port (with
# anvil_port+1, the development prices) to free ports. Picked below the
# kernel's ephemeral range: the services of tests running beside this one
# bind port 0, which the kernel hands out from that range, and could take
# a port between the check here and tools/up's bind.
pick_ports() {
  local candidate ephemeral_low top
  ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  top=$((ephemeral_low > 20100 ? ephemeral_low - 5 : 30000))
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % (top - 20000)))
    if ! listening "$candidate" && ! listening $((candidate + 1)) &&
      ! listening $((candidate + 2)) && ! listening $((candidate + 3)) &&
      ! listening $((candidate + 4)); then
      base=$candidate
      anvil_port=$((candidate + 3))
      return 0
    fi
  done
  fail "no free ports found"
}

# Whether a line of $1 holds every one of the other arguments (case-
# insensitive; a number only as a whole number, so 10000 is not 100000).
has_line() {
  local text="$1" line word ok
  shift
  while IFS= read -r line; do
    ok=1
    for word in "$@"; do
      if [[ "$word" =~ ^[0-9.]+$ ]]; then
        grep -qE "(^|[^0-9.])${word//./\\.}([^0-9.]|$)" <<<"$line" || ok=0
      else
        grep -qiF -- "$word" <<<"$line" || ok=0
      fi
    done
    if ((ok)); then return 0; fi
  done <<<"$text"
  return 1
}

# run_once N: tools/up on $work/data, checked from start to Ctrl-C.
run_once() {
  local base anvil_port ports pids pid code balances portfolio accounts account token left port rows
  log="$work/up-$1.log"
  pick_ports
  ports=("$base" $((base + 1)) $((base + 2)) "$anvil_port" $((anvil_port + 1)))

  # Job control: tools/up runs as a job of its own (process group = its
  # pid) that does not ignore SIGINT, as in a terminal.
  set -m
  (cd "$work" && exec "$up" --no-bootstrap --bin "$root" --data data --port-base "$base" \
    --anvil-port "$anvil_port") >"$log" 2>&1 &
  up_pid=$!
  set +m

  for _ in $(seq 1 1800); do
    grep -q "Press Ctrl-C to stop" "$log" && break
    kill -0 "$up_pid" 2>/dev/null || {
      code=0
      wait "$up_pid" || code=$?
      fail "run $1: tools/up exited with status $code before it printed the portfolio"
    }
    sleep 0.1
  done
  grep -q "Press Ctrl-C to stop" "$log" || fail "run $1: no portfolio within 180 s"

  # The output between two of tools/up's step lines.
  balances="$(sed -n '/^==> balances/,/^==> portfolio/p' "$log")"
  portfolio="$(sed -n '/^==> portfolio/,/^coffer is running/p' "$log")"
  mapfile -t accounts < <(curl -sS -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_accounts","params":[]}' \
    "http://127.0.0.1:$anvil_port" | grep -o '0x[0-9a-fA-F]\{40\}')
  ((${#accounts[@]} == 10)) || fail "run $1: anvil lists ${#accounts[@]} accounts, not 10"
  token="$(sed -n 's/.* at \(0x[0-9a-fA-F]\{40\}\): 1000 to dev-0.*/\1/p' "$log")"
  [[ -n "$token" ]] || fail "run $1: tools/up did not say where the token is"

  for account in "${accounts[@]}"; do
    has_line "$balances" "$account" slip44:60 10000 ||
      fail "run $1: the balances do not show 10000 ETH for $account"
  done
  has_line "$balances" "${accounts[0]}" "$token" 1000 ||
    fail "run $1: the balances do not show dev-0's 1000 of the token $token"
  has_line "$balances" "${accounts[1]}" "$token" 250.5 ||
    fail "run $1: the balances do not show dev-1's 250.5 of the token $token"
  # Twelve rows, also on the second run: ten accounts with ether, two with
  # the token, none registered twice.
  rows=$(grep -c '^eip155:31337:0x' <<<"$balances" || true)
  ((rows == 12)) || fail "run $1: $rows balances shown, not 12"
  has_line "$portfolio" slip44:60 100000 ||
    fail "run $1: the portfolio does not show the 100000 ETH in all"
  has_line "$portfolio" "$token" 1250.5 ||
    fail "run $1: the portfolio does not show the 1250.5 tokens in all"
  # Valued at tools/up's development prices: ETH 3000 USD, the token 1 USD.
  has_line "$portfolio" slip44:60 300000000 ||
    fail "run $1: the portfolio does not value the ether at 3000 USD"
  has_line "$portfolio" TOTAL 300001250.5 ||
    fail "run $1: the portfolio's total is not 300001250.5 USD"

  # Ctrl-C.
  mapfile -t pids < <(started_pids)
  ((${#pids[@]} == 5)) || fail "run $1: tools/up reported ${#pids[@]} processes, not 5"
  kill -INT -- "-$up_pid"
  for _ in $(seq 1 600); do
    kill -0 "$up_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$up_pid" 2>/dev/null; then fail "run $1: tools/up still runs 60 s after SIGINT"; fi
  code=0
  wait "$up_pid" || code=$?
  ((code == 0)) || fail "run $1: tools/up exited with status $code on SIGINT"
  grep -q "stopped cleanly" "$log" || fail "run $1: tools/up did not say it stopped cleanly"

  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then fail "run $1: process $pid is still running"; fi
  done
  left="$(pgrep -af -- "$work" || true)"
  [[ -z "$left" ]] || fail "run $1: processes left running: $left"
  for port in "${ports[@]}"; do
    if listening "$port"; then fail "run $1: port $port is still listening"; fi
  done
  up_pid=""
  echo "--- run $1: tools/up's output:"
  cat "$log"
}

run_once 1
run_once 2
echo "PASS"
