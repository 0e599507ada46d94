#!/bin/sh
# run_node.sh TESTD_BINARY NODE_DIR — sign webhooks with Stripe's official
# Node library (stripe.webhooks.generateTestHeaderString) and send them to
# a real settle HTTP server: install the pinned library if needed, start
# http_testd on a free port, run the scenarios with Node's test runner.
set -eu
testd=$1
dir=$2
cd "$dir"
if [ ! -d node_modules/stripe ]; then
  npm ci --no-audit --no-fund
fi
out=$(mktemp)
fifo=$(mktemp -u)
mkfifo "$fifo"
# The server runs until its standard input closes (the fifo's writer exits).
"$testd" "whsec_node_current,whsec_node_previous" "node-write-token" <"$fifo" >"$out" 2>&1 &
pid=$!
exec 3>"$fifo"
trap 'exec 3>&-; wait "$pid" 2>/dev/null || true; rm -f "$out" "$fifo"' EXIT INT TERM
port=""
i=0
while [ -z "$port" ] && [ $i -lt 200 ]; do
  port=$(sed -n 's/^settle-http listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out")
  [ -n "$port" ] || { kill -0 "$pid" 2>/dev/null || { cat "$out"; exit 1; }; sleep 0.1; }
  i=$((i + 1))
done
[ -n "$port" ] || { echo "http_testd did not start"; cat "$out"; exit 1; }
SETTLE_HTTP_PORT=$port node --test --test-concurrency=1 test/*.test.js
