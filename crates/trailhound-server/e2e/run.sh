#!/usr/bin/env bash
# End-to-end browser tests of the web UI: generates an organisation's CloudTrail, hunts it
# into a store, serves it (token required) and drives headless Chromium through the UI.
# Screenshots land in target/e2e-artifacts. Needs /usr/bin/chromium and node (test-deps.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"
command -v node >/dev/null || { echo "e2e: node is required (scripts/test-deps.sh)" >&2; exit 1; }
chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium_bin" ] || { echo "e2e: $chromium_bin missing (apt-get install chromium)" >&2; exit 1; }
[ -d "$here/node_modules/playwright-core" ] || (cd "$here" && npm ci --no-audit --no-fund)

# TRAILHOUND_BIN: a binary already built (scripts/test.sh passes the one `cargo test` built,
# which saves a second build with different features).
if [ -n "${TRAILHOUND_BIN:-}" ]; then
  bin="$TRAILHOUND_BIN"
else
  cargo build -q -p trailhound
  bin="$root/target/debug/trailhound"
fi
work="$(mktemp -d)"
artifacts="$root/target/e2e-artifacts"
rm -rf "$artifacts"; mkdir -p "$artifacts"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# E2E_STORE: drive the UI over an existing store instead (e.g. the 10M-event, 100k-alert
# store of the scale runs, docs/web.md); its triage state is changed by the test.
store="${E2E_STORE:-$work/store}"
if [ -z "${E2E_STORE:-}" ]; then
  "$bin" gen --out "$work/org" --days 2 --accounts 2 --events-per-day 400 --seed 7 -q
  set +e
  "$bin" hunt "$work/org/AWSLogs" --store "$store" >"$work/hunt.out" 2>"$work/hunt.err"
  status=$?
  set -e
  # hunt exits 1 when it raised alerts, which is what this test needs.
  [ "$status" -le 1 ] || { cat "$work/hunt.err" >&2; exit 1; }
else
  rm -f "$store/server-token"   # a fresh token, announced as at a first start
fi
alerts=$("$bin" query --store "$store" "SELECT count(*) FROM alerts" --format json | tr -dc '0-9')
echo "e2e: store with $alerts alerts"
[ "${alerts:-0}" -gt 0 ] || { echo "e2e: the generated store has no alerts" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$bin" serve --store "$store" --listen "127.0.0.1:$port" --require-token >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done
grep -q "access token (shown once" "$work/serve.out" || { echo "e2e: the token was not announced" >&2; cat "$work/serve.err" >&2; exit 1; }

BASE_URL="http://127.0.0.1:$port" TOKEN_FILE="$store/server-token" ARTIFACTS="$artifacts" \
  CHROMIUM="$chromium_bin" node "$here/ui.test.mjs"
