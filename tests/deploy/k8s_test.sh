#!/usr/bin/env bash
# deploy/k8s against the Kubernetes schemas and the binaries it runs, offline
# (no cluster): each overlay rendered with `kubectl kustomize` (dev after its
# make-secrets wrote the development secrets), converted to JSON, and checked
# by k8s_check.js against kubernetes-models and each binary's --helpfull.
# Then a manifest naming a flag no binary has must fail the same check.
#
# Needs kubectl (with kustomize), python3-yaml, openssl, node, and the
# kubernetes-models that tools/bootstrap installs under tools/npm (found
# through the runfiles' link to the source tree, or $COFFER_NODE_MODULES).
# Checks only what can be seen without a cluster: nothing here starts a pod.
set -euo pipefail

root="${TEST_SRCDIR:?run under bazel test}/coffer"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

command -v kubectl >/dev/null || fail "no kubectl on PATH (it renders the overlays)"
command -v node >/dev/null || fail "no node on PATH"
command -v openssl >/dev/null || fail "no openssl on PATH"
python3 -c 'import yaml' 2>/dev/null || fail "python3 has no yaml module (Debian: python3-yaml)"

source_root="$(cd "$(dirname "$(readlink -f "$root/tests/deploy/k8s_check.js")")/../.." && pwd)"
node_modules="${COFFER_NODE_MODULES:-$source_root/tools/npm/node_modules}"
[[ -d "$node_modules/kubernetes-models" ]] ||
  fail "no kubernetes-models in $node_modules (tools/bootstrap installs it)"

# The fetcher's config in the base is the example fetcher_config_test
# validates; kustomize cannot read it from services/, hence the copy.
cmp -s "$root/deploy/k8s/base/fetcher.textproto" "$root/services/fetcher/config/example.textproto" ||
  fail "deploy/k8s/base/fetcher.textproto differs from services/fetcher/config/example.textproto"

# Each binary's flags and default port.
service_args=()
for service in storage fetcher scheduler; do
  binary="$root/services/$service/coffer-$service"
  help="$tmp/$service.helpfull"
  "$binary" --helpfull >"$help" 2>&1 || true  # absl exits 1 after --helpfull
  grep -q -- "--listen (" "$help" || fail "coffer-$service --helpfull lists no --listen: $(head -3 "$help")"
  port="$(sed -n 's/.*\.default_listen = "127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$root/services/$service/main.cc")"
  [[ -n "$port" ]] || fail "no .default_listen in services/$service/main.cc"
  service_args+=("$service=$help:$port")
done

# A writable copy: make-secrets writes into the dev overlay, with
# certificates from tools/devcerts (a runfile once //:tools/devcerts is
# exported, else the source tree's).
cp -rL "$root/deploy/k8s" "$tmp/k8s"
chmod -R u+w "$tmp/k8s"
dev="$tmp/k8s/overlays/dev"
devcerts="$root/tools/devcerts"
[[ -x "$devcerts" ]] || devcerts="$source_root/tools/devcerts"
[[ -x "$devcerts" ]] || fail "no tools/devcerts"
COFFER_DEVCERTS="$devcerts" "$dev/make-secrets" >/dev/null
# Rerunning keeps every file: a new database key would lock the database out.
sums="$(cd "$dev/secrets" && sha256sum -- *)"
COFFER_DEVCERTS="$devcerts" "$dev/make-secrets" >/dev/null
[[ "$(cd "$dev/secrets" && sha256sum -- *)" == "$sums" ]] || fail "make-secrets changed existing secrets"

to_json() {
  python3 -c 'import json, sys, yaml; json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)'
}

status=0
for overlay in dev prod; do
  kubectl kustomize "$tmp/k8s/overlays/$overlay" >"$tmp/$overlay.yaml" 2>"$tmp/$overlay.err" ||
    fail "kubectl kustomize overlays/$overlay: $(cat "$tmp/$overlay.err")"
  to_json <"$tmp/$overlay.yaml" >"$tmp/$overlay.json"
  node "$root/tests/deploy/k8s_check.js" "$overlay" "$tmp/$overlay.json" "$node_modules" \
    "${service_args[@]}" || status=1
done
[[ $status -eq 0 ]] || fail "the manifests do not match the binaries (lines above)"

# The check is not vacuous: a flag and a variable that coffer-storage does
# not have, and a probe off its port, are each reported.
python3 - "$tmp/dev.json" "$tmp/broken.json" <<'EOF'
import json, sys
objects = json.load(open(sys.argv[1]))
for o in objects:
    if o and o["kind"] == "StatefulSet":
        container = o["spec"]["template"]["spec"]["containers"][0]
        container["args"].append("--no_such_flag_for_k8s_test=1")
        container["env"].append({"name": "COFFER_NO_SUCH_VARIABLE", "value": "1"})
        container["livenessProbe"]["grpc"]["port"] = 1234
json.dump(objects, open(sys.argv[2], "w"))
EOF
if node "$root/tests/deploy/k8s_check.js" dev "$tmp/broken.json" "$node_modules" \
  "${service_args[@]}" >"$tmp/broken.out" 2>&1; then
  fail "a manifest with an unknown flag passed the check"
fi
for want in "--no_such_flag_for_k8s_test is not a flag of coffer-storage" \
  "env COFFER_NO_SUCH_VARIABLE names no flag of coffer-storage" \
  "livenessProbe on port 1234"; do
  grep -qF -- "$want" "$tmp/broken.out" || fail "the broken manifest was not reported as: $want"
done

echo "k8s_test: dev and prod overlays match the binaries"
