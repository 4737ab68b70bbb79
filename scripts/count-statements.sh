#!/usr/bin/env bash
# Counts the SQL statements (each a round trip to SQLite's thread or PostgreSQL's server) that one
# request of each page runs, signed in to the demo tenant, on the debug server built by
# `scripts/build.sh debug`. The job workers' polls (`UPDATE jobs SET lease_owner`) run whatever
# the requests do and are left out. Each page is requested once to warm up, then counted.
#   scripts/count-statements.sh                        (SQLite)
#   scripts/with-postgres.sh scripts/count-statements.sh --database-url '$MERIDIAN_TEST_DATABASE_URL'
# PAGES="/ /vms" and SHOW=1 (print the statements) change what it does.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for arg in "$@"; do args+=("$(eval echo "$arg")"); done
port=${PORT:-3410}
work=$(mktemp -d)
log=$work/server.log
target/debug/meridian serve --listen "127.0.0.1:$port" --data-dir "$work/data" --site-root target/site \
  --log "error,sqlx::query=debug" --demo --sim-timing 200ms "${args[@]}" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 120); do
  curl -sf "$base/healthz" >/dev/null && break
  sleep 0.5
done
cookies=$work/cookies
# The demo's VMs and history are made after the server starts: log in once they are there.
for _ in $(seq 120); do
  curl -s -c "$cookies" -b "$cookies" -X POST -H "Origin: $base" \
    -H "Content-Type: application/x-www-form-urlencoded" "$base/fn/demo_login" -o /dev/null
  curl -s -b "$cookies" "$base/bandwidth" | grep -q "By zone" && break
  sleep 1
done
statements() { grep "summary=" "$log" | grep -v "UPDATE jobs SET lease_owner" || true; }
# …and once the demo's history has been replayed: no statement for two seconds running.
quiet=0
while [ "$quiet" -lt 2 ]; do
  was=$(statements | wc -l)
  sleep 1
  if [ "$(statements | wc -l)" = "$was" ]; then quiet=$((quiet + 1)); else quiet=0; fi
done
for path in ${PAGES:-/ /vms /billing /bandwidth /map}; do
  curl -s -b "$cookies" "$base$path" -o /dev/null
  sleep 0.3
  before=$(statements | wc -l)
  status=$(curl -s -b "$cookies" "$base$path" -o /dev/null -w "%{http_code}")
  sleep 0.3
  after=$(statements | wc -l)
  echo "$path $status: $((after - before)) statements"
  if [ -n "${SHOW:-}" ]; then
    statements | sed -n "$((before + 1)),${after}p" | grep -o 'summary="[^"]*"'
  fi
done
