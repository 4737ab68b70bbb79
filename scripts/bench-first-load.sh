#!/usr/bin/env bash
# First load as a user sees it (issue 19): what each file of the release bundle weighs as it
# travels, then time to hydrated and LCP, bytes transferred, for the log-in page, the overview, the
# map and the VM list, on loopback and on a slow-4G phone profile, in Debian's Chromium.
# Usage: scripts/bench-first-load.sh [runs]   (run scripts/build.sh release first; MERIDIAN_BIN
# picks another server binary, e.g. target/local/meridian after scripts/build.sh run)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
bin=${MERIDIAN_BIN:-target/release/meridian}
[ -f target/site/pkg/hash.txt ] && [ -x "$bin" ] ||
  { echo "build first: scripts/build.sh release" >&2; exit 1; }

echo "Release browser bundle (target/site/pkg), as it travels:"
printf '%-36s %10s %10s %10s\n' file raw gzip-9 brotli-11
while read -r kind hash; do
  f=target/site/pkg/meridian.$hash.$kind
  raw=$(stat -c %s "$f")
  gz=$(stat -c %s "$f.gz" 2>/dev/null || gzip -9 -c "$f" | wc -c)
  br=$(stat -c %s "$f.br" 2>/dev/null || brotli -q 11 -c "$f" | wc -c)
  printf '%-36s %10d %10d %10d\n' "$(basename "$f")" "$raw" "$gz" "$br"
done < <(sed 's/: */ /' target/site/pkg/hash.txt)
echo

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
echo "Server: $bin"
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir" --site-root target/site \
  --log error --demo &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
(cd end2end && node bench/first-load.mjs "http://127.0.0.1:$port" "$runs")
