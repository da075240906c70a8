#!/bin/sh
# OpenAPI conformance, checked by schemathesis (https://schemathesis.io) against a real
# server with the demo data, signed in as the demo municipality's administrator (city1).
# A manual check, not part of `cargo xtask test`: it needs schemathesis from PyPI
# (`python3 -m venv .venv && .venv/bin/pip install schemathesis`) and takes ~5 minutes.
# What it found is pinned by Rust tests (tests/tests/it/api_hygiene.rs, admin_permissions.rs).
#
# usage: tests/conformance/schemathesis.sh [RENRAKU_BINARY] [extra schemathesis args]
# env:   SCHEMATHESIS (default: schemathesis on PATH), PORT (default 18790)
set -eu
BIN=${1:-target/debug/renraku}
[ $# -gt 0 ] && shift
ST=${SCHEMATHESIS:-schemathesis}
PORT=${PORT:-18790}
OUT=$(mktemp -d)
RENRAKU_INSECURE_COOKIES=true "$BIN" serve --demo --data-dir "$OUT/data" --listen "127.0.0.1:$PORT" \
  >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.2
done
TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' \
  -d '{"login_id":"city1","password":"renraku-demo"}' \
  "http://127.0.0.1:$PORT/api/demo/signin" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["session_token"])')
# Run from the scratch directory: schemathesis keeps its cache in `.schemathesis/` there.
cd "$OUT"
# Left out: the operations that end the tester's own session or lock it out (sign-out,
# password change, session revocation, reset/disable of an account — possibly its own —
# and the client-certificate requirement for its municipality).
"$ST" run "http://127.0.0.1:$PORT/api/openapi.json" \
  -H "Authorization: Bearer $TOKEN" --checks all --seed 13 -w 1 \
  --exclude-path-regex '^/api/(signout|me/password|me/sessions/\{id\}|admin/municipalities/\{slug\}/client-certificate-policy|admin/users/\{id\}/(reset-password|disable))$' \
  --max-time 300 -n 20 "$@"
