#!/usr/bin/env bash
# Load benchmark (issue #7): builds the release server, starts it pinned to CPU 0 on a fresh SQLite
# database, and drives it from CPU 1 at fixed rates — the list of 100 VMs, the overview page, VM
# creates, log-in floods — printing latency percentiles and the server's resident memory.
# Usage: scripts/bench-load.sh   (MERIDIAN_LOAD_SECONDS=10 per run by default)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v taskset >/dev/null || { echo "needs taskset (Debian's util-linux)" >&2; exit 1; }
cargo build --release --locked -p meridian --bin meridian
cargo bench --locked -p meridian --bench load --no-run
taskset -c 1 cargo bench --locked -p meridian --bench load -- --binary "$PWD/target/release/meridian" --site-root "$PWD/target/site"
