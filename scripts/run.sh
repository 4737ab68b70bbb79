#!/usr/bin/env bash
# Installs what is missing, builds Meridian (the release bundle; the server with the `local` profile), and serves it on http://127.0.0.1:3000
# with SQLite in ./data (override with MERIDIAN_* variables; see `meridian --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
scripts/build.sh run
echo "==> Meridian on http://127.0.0.1:3000 (Ctrl-C to stop)"
exec target/local/meridian serve --site-root target/site --demo "$@"
