#!/usr/bin/env bash
# tools/devcerts: a CA and certificates that verify against it with the
# agreed SANs and usages; a second run reuses the CA; --expired issues a
# certificate that no longer verifies; another DIR is another CA.
set -euo pipefail
DEVCERTS="${1:-${TEST_SRCDIR:-}/coffer/tools/devcerts}"
dir="${TEST_TMPDIR:-$(mktemp -d)}/devcerts"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$DEVCERTS" "$dir" storage scheduler >/dev/null
for f in ca.pem ca.key storage.pem storage.key scheduler.pem scheduler.key; do
  [[ -s "$dir/$f" ]] || fail "$f missing"
done
[[ "$(stat -c %a "$dir/storage.key")" == 600 ]] || fail "storage.key is not 0600"
openssl verify -CAfile "$dir/ca.pem" "$dir/storage.pem" >/dev/null || fail "storage.pem does not verify"
ext="$(openssl x509 -in "$dir/storage.pem" -noout -ext subjectAltName,extendedKeyUsage)"
for want in "DNS:storage" "DNS:localhost" "IP Address:127.0.0.1" "TLS Web Server Authentication" \
  "TLS Web Client Authentication"; do
  grep -q "$want" <<<"$ext" || fail "storage.pem lacks $want: $ext"
done
ca_before="$(sha256sum <"$dir/ca.pem")"
"$DEVCERTS" "$dir" storage >/dev/null
[[ "$(sha256sum <"$dir/ca.pem")" == "$ca_before" ]] || fail "a second run replaced the CA"
openssl verify -CAfile "$dir/ca.pem" "$dir/storage.pem" >/dev/null || fail "reissued storage.pem does not verify"

"$DEVCERTS" --expired "$dir" old >/dev/null
if openssl verify -CAfile "$dir/ca.pem" "$dir/old.pem" >/dev/null 2>&1; then fail "--expired verifies"; fi
openssl verify -CAfile "$dir/ca.pem" -no_check_time "$dir/old.pem" >/dev/null || fail "old.pem not from the CA"

"$DEVCERTS" "$dir/other" stranger >/dev/null
if openssl verify -CAfile "$dir/ca.pem" "$dir/other/stranger.pem" >/dev/null 2>&1; then
  fail "a certificate of another DIR's CA verifies"
fi
"$DEVCERTS" "$dir" 'k8s=storage.coffer.svc,storage' >/dev/null
openssl x509 -in "$dir/k8s.pem" -noout -ext subjectAltName | grep -q "DNS:storage.coffer.svc" || fail "NAME=DNS list"
if "$DEVCERTS" "$dir" '../escape' >/dev/null 2>&1; then fail "a path as NAME was accepted"; fi
echo PASS
