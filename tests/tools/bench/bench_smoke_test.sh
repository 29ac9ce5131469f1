#!/usr/bin/env bash
# For each benchmark server: start it on a free loopback port, run the load
# generator against it for about a second at 4 calls in flight (closed loop,
# then paced), check its JSON (qps > 0, errors == 0), then stop the server
# with SIGTERM and check that it exits 0.
set -euo pipefail

bin="${TEST_SRCDIR:?run under bazel test}/coffer/tools/bench"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
server_pid=""
trap 'if [[ -n "$server_pid" ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

json_field() {  # json_field JSON KEY
  sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<<"$1"
}

for kind in bare_echo_server framework_ping_server; do
  echo "== $kind"
  port_file="$tmp/$kind.port"
  log="$tmp/$kind.log"
  "$bin/$kind" --listen=127.0.0.1:0 --port_file="$port_file" --completion_queues=2 >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do
    [[ -s "$port_file" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  [[ -s "$port_file" ]] || { cat "$log" >&2; fail "$kind did not write its port"; }
  port=$(cat "$port_file")

  status=0
  json=$("$bin/load_generator" --target="127.0.0.1:$port" --concurrency=4 --duration=1s \
    --warmup=200ms --payload_bytes=100 --server_pid="$server_pid") || status=$?
  echo "$json"
  [[ $status -eq 0 ]] || fail "load generator against $kind exited with $status"
  [[ "$json" == \{*\} ]] || fail "not one JSON object: $json"
  qps=$(json_field "$json" qps)
  errors=$(json_field "$json" errors)
  calls=$(json_field "$json" calls)
  [[ -n "$qps" && -n "$errors" && -n "$calls" ]] || fail "qps, calls or errors missing: $json"
  awk -v q="$qps" 'BEGIN { exit !(q > 0) }' || fail "$kind: qps is $qps"
  [[ "$errors" == 0 ]] || fail "$kind: $errors errors"
  [[ "$calls" -gt 0 ]] || fail "$kind: no calls measured"
  for key in p50_us p99_us server_cpu_us_per_call; do
    [[ -n "$(json_field "$json" "$key")" ]] || fail "$kind: $key missing: $json"
  done

  # Paced: the slots wait on alarms between calls; same checks.
  status=0
  json=$("$bin/load_generator" --target="127.0.0.1:$port" --concurrency=4 --rate=400 \
    --duration=500ms --warmup=100ms) || status=$?
  echo "$json"
  [[ $status -eq 0 ]] || fail "paced load generator against $kind exited with $status"
  awk -v q="$(json_field "$json" qps)" 'BEGIN { exit !(q > 0) }' || fail "$kind paced: no calls"
  [[ "$(json_field "$json" errors)" == 0 ]] || fail "$kind paced: errors: $json"

  kill -TERM "$server_pid"
  status=0
  wait "$server_pid" || status=$?
  server_pid=""
  [[ $status -eq 0 ]] || { cat "$log" >&2; fail "$kind exited with $status on SIGTERM"; }
  grep -q "stopped" "$log" || { cat "$log" >&2; fail "$kind did not report its shutdown"; }
done

# A server that is not there: the generator fails fast with status 2.
status=0
"$bin/load_generator" --target=127.0.0.1:1 --connect_timeout=500ms --duration=1s >/dev/null \
  2>"$tmp/unreachable.log" || status=$?
[[ $status -eq 2 ]] || fail "load generator against a closed port exited with $status, want 2"
echo PASS
