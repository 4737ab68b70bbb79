#!/usr/bin/env bash
# Installs what is missing and runs every test: the Rust workspace on SQLite, again on a throw-away
# PostgreSQL cluster, then the browser tests in real Chromium against a freshly built server on a
# fresh database, and those that need real VMs against a lab. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test

# The frontend crate is built for wasm32 with the `hydrate` feature; compiled for the host it would
# unify features with the server's `ssr` build, so it is left out of `cargo test`.
rust_tests=(cargo test --workspace --exclude meridian-frontend --locked)

# Runs a command; if it is still running after $1 seconds (a test hung: a pass takes ~8 minutes,
# build included), prints where every test process is stuck, thread by thread, then stops it and
# fails. A hang then ends the run early with its cause instead of at CI's own limit.
within() {
  local limit=$1
  shift
  "$@" &
  local command=$!
  (
    sleep "$limit" &
    sleeper=$!
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    wait "$sleeper"
    echo "==> still running after ${limit} s; where each test process is:" >&2
    # The command's descendants that are test binaries.
    local tree=$command tests=() pid
    while [ -n "$tree" ]; do
      tree=$(pgrep -P "$(echo "$tree" | paste -sd, -)" || true)
      for pid in $tree; do
        case $(readlink "/proc/$pid/exe" 2>/dev/null) in */target/debug/deps/*) tests+=("$pid") ;; esac
      done
    done
    for pid in "${tests[@]}"; do
      echo "--- $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)" >&2
      gdb -p "$pid" -batch -ex 'thread apply all bt' 2>/dev/null \
        | grep -E '^Thread|meridian|leptos|reactive_graph|tachys|sqlx|tokio::sync|tokio::time|hyper|futex|parking' \
        | cut -c1-240 | head -n 400 >&2 || true
    done
    kill -KILL "${tests[@]}" 2>/dev/null || true
  ) &
  local watchdog=$!
  local status=0
  wait "$command" || status=$?
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  return "$status"
}

echo "==> Rust tests on SQLite"
MERIDIAN_TEST_DATABASE_URL=sqlite: within 1800 "${rust_tests[@]}"

# The agent's tests boot real VMs and touch no database: they run once, in the pass above.
echo "==> Rust tests on PostgreSQL"
within 1800 scripts/with-postgres.sh "${rust_tests[@]}" --exclude meridian-agent

echo "==> core builds for the browser and pulls in no I/O crate"
cargo check -p meridian-core --target wasm32-unknown-unknown --locked
if cargo tree -p meridian-core -e normal --prefix none | grep -Eq '^(tokio|sqlx|axum|leptos|hyper|mio) '; then
  echo "meridian-core depends on an I/O crate:" >&2
  cargo tree -p meridian-core -e normal >&2
  exit 1
fi

echo "==> browser tests (Chromium)"
scripts/build.sh debug
mkdir -p end2end/screenshots
(cd end2end && npx playwright test)

# A lab (real host agents and VMs, its own name, net and port) for the browser tests that need one:
# the interactive console of a real VM, the map's measured links.
echo "==> browser tests against a lab (Chromium, zones lon1 and nyc1)"
lab=(scripts/lab.sh --dir /tmp/meridian-e2e-lab --name mle --net 10.252.0)
"${lab[0]}" down "${lab[@]:1}" >/dev/null 2>&1 || true
trap '"${lab[0]}" down "${lab[@]:1}" >/dev/null 2>&1 || true' EXIT
"${lab[0]}" up "${lab[@]:1}" --zones lon1,nyc1 --port 3950 --no-build
(cd end2end && MERIDIAN_LAB_URL=http://127.0.0.1:3950 npx playwright test --config lab.config.ts)
"${lab[0]}" down "${lab[@]:1}"
echo "All tests passed. Screenshots: end2end/screenshots/"
