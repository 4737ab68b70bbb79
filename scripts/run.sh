#!/usr/bin/env bash
# Installs what is missing, builds Meridian in release mode, and serves it on http://127.0.0.1:3000
# with SQLite in ./data (override with MERIDIAN_* variables; see `meridian --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
scripts/build.sh release
echo "==> Meridian on http://127.0.0.1:3000 (Ctrl-C to stop)"
exec target/release/meridian serve --site-root target/site --demo "$@"
