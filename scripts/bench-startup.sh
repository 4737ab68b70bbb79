#!/usr/bin/env bash
# Measures what a user waits for: the release browser bundle's size (raw, gzip -9, brotli -q 11)
# and the release server's cold start to a healthy /healthz on a fresh SQLite database.
# Usage: scripts/bench-startup.sh   (run scripts/build.sh release first; needs Debian's brotli)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v brotli >/dev/null || { echo "install Debian's brotli package first" >&2; exit 1; }

echo "Release browser bundle (target/site/pkg):"
printf '%-22s %10s %10s %10s\n' file raw gzip brotli
total_raw=0 total_gz=0 total_br=0
for f in $(sed 's/^\([a-z]*\): *\(.*\)$/target\/site\/pkg\/meridian.\2.\1/' target/site/pkg/hash.txt); do
  raw=$(stat -c %s "$f"); gz=$(gzip -9 -c "$f" | wc -c); br=$(brotli -q 11 -c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)); total_br=$((total_br + br))
  printf '%-22s %10d %10d %10d\n' "$(basename "$f")" "$raw" "$gz" "$br"
done
printf '%-22s %10d %10d %10d\n' total "$total_raw" "$total_gz" "$total_br"

echo
echo "Cold start of target/release/meridian to a healthy /healthz (fresh database each run):"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for run in 1 2 3 4 5; do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  target/release/meridian serve --listen "127.0.0.1:$port" --data-dir "$dir" --log error &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.005; done
  end=$(date +%s%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "run $run: $(( (end - start) / 1000000 )) ms"
done
