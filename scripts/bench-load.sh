#!/usr/bin/env bash
# Load benchmark (issue #7): builds the release server, starts it pinned to CPU 0 on a fresh SQLite
# database, and drives it from CPU 1 at fixed rates — the list of 100 VMs, the overview page, VM
# creates, log-in floods — printing latency percentiles and the server's resident memory.
# Usage: scripts/bench-load.sh   (MERIDIAN_LOAD_SECONDS=10 per run by default;
#        MERIDIAN_LOAD_SCALE=large for a database of 10,000 tenants and 100,000 VMs;
#        under scripts/with-postgres.sh on PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v taskset >/dev/null || { echo "needs taskset (Debian's util-linux)" >&2; exit 1; }
# One build: the benchmark's build makes the release binary too (with the control plane's `testing`
# feature, which only opens its store to the benchmark's seeding and changes no behaviour); a
# `cargo build --release` first would build the server a second time.
cargo bench --locked -p meridian --bench load --no-run
taskset -c 1 cargo bench --locked -p meridian --bench load -- --binary "$PWD/target/release/meridian" --site-root "$PWD/target/site"
