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

echo "Release browser bundle (target/site/pkg), as it travels (every file, then what each page needs):"
python3 - target/site/pkg <<'PY'
import json, os, sys, subprocess
pkg = sys.argv[1]
names = dict(line.split(": ") for line in open(os.path.join(pkg, "hash.txt")).read().split("\n") if line)
def sizes(name):
    path = os.path.join(pkg, name)
    raw = os.path.getsize(path)
    packed = lambda ext, cmd: os.path.getsize(path + ext) if os.path.exists(path + ext) else len(
        subprocess.run(cmd + [path], capture_output=True).stdout)
    return raw, packed(".gz", ["gzip", "-9", "-c"]), packed(".br", ["brotli", "-q", "11", "-c"])
start = {"main WASM": f"meridian.{names['wasm']}.wasm", "JS glue": f"meridian.{names['js']}.js",
         "CSS": f"meridian.{names['css']}.css", "loader of modules": f"__wasm_split.{names['split']}.js"}
print(f"{'file':<58} {'raw':>10} {'gzip -9':>10} {'brotli 11':>10}")
for label, name in start.items():
    print(f"{name:<58} {sizes(name)[0]:>10} {sizes(name)[1]:>10} {sizes(name)[2]:>10}  {label}")
manifest = json.load(open(os.path.join(pkg, f"__wasm_split_manifest.{names['manifest']}.json")))
modules = sorted({m for ms in manifest.values() for m in ms})
for m in modules:
    r, g, b = sizes(m + ".wasm")
    print(f"{m + '.wasm':<58} {r:>10} {g:>10} {b:>10}")
first = sizes(start["main WASM"])[2] + sizes(start["JS glue"])[2]
print(f"\nInitial WASM + JS glue, brotli 11 (log-in, overview): {first} B")
for group, ms in sorted(manifest.items()):
    extra = sum(sizes(m + ".wasm")[2] for m in ms) + sizes(start["loader of modules"])[2]
    print(f"  a page of {group.rsplit('_', 1)[0]:<10}: {first + extra} B in {len(ms) + 3} files "
          f"(+{len(ms)} modules and their loader)")
PY
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
