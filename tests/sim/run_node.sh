#!/bin/sh
# run_node.sh SIM_BINARY NODE_DIR — run Stripe's official Node client against
# stripe-sim: install the pinned client if needed, start the sim on a free
# port, run the scenarios with Node's built-in test runner, stop the sim.
set -eu
sim=$1
dir=$2
cd "$dir"
if [ ! -d node_modules/stripe ]; then
  npm ci --no-audit --no-fund
fi
out=$(mktemp)
"$sim" --port 0 --quiet --seed 7 >"$out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT INT TERM
port=""
i=0
while [ -z "$port" ] && [ $i -lt 100 ]; do
  port=$(sed -n 's/^stripe-sim listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out")
  [ -n "$port" ] || { kill -0 "$pid" 2>/dev/null || { cat "$out"; exit 1; }; sleep 0.1; }
  i=$((i + 1))
done
[ -n "$port" ] || { echo "stripe-sim did not start"; cat "$out"; exit 1; }
status=0
STRIPE_SIM_PORT=$port node --test --test-concurrency=1 test/*.test.js || status=$?
# Stop the sim cleanly so a sanitizer build reports leaks, and fail on any report.
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if grep -q "Sanitizer" "$out"; then
  cat "$out"
  exit 1
fi
exit $status
