#!/usr/bin/env bash
# Builds Meridian: the browser bundle (WASM + JS + CSS + public files) into target/site, and the
# server binary. Usage: scripts/build.sh [debug|run|release]   (default: debug)
#   debug:   fast to build, what the browser tests use (the bundle unoptimised, uncompressed)
#   run:     what `make run` serves: the release bundle, the server built in minutes (profile `local`)
#   release: releases and benchmarks: the release bundle and the fully optimised server
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-debug}
case "$mode" in
  debug)   wasm_profile=dev;          wasm_dir=debug;        server_flags=() ;;
  run)     wasm_profile=wasm-release; wasm_dir=wasm-release; server_flags=(--profile local) ;;
  release) wasm_profile=wasm-release; wasm_dir=wasm-release; server_flags=(--release) ;;
  *) echo "usage: $0 [debug|run|release]" >&2; exit 2 ;;
esac

site=target/site
mkdir -p "$site/pkg"

# The bundle from the compiled WASM: wasm-split cuts it at the pages loaded on demand (a module per
# page, and modules of the code pages share; app/src/pages/mod.rs), wasm-bindgen writes the glue of
# the main module, and scripts/bundle.py names every file by a hash of its content (browsers keep
# it for a year; the server marks it immutable) and lists, per page, the modules it needs.
# Optimised bundles are also compressed there, once, at the highest levels; the server sends those
# files as they are instead of compressing on every request.
make_bundle() {
  local input=$1 stage compress=()
  stage=$(mktemp -d)
  wasm-split-cli "$input" "$stage/split" --out-name meridian
  # No `wasm-opt` pass: measured on this bundle, `-Oz` made the file 16 % smaller raw but 10 %
  # larger at brotli 11 (841 KB against 761 KB), and what travels is what a phone waits for; it
  # also took two minutes of every optimised build (docs/BENCHMARKS.md).
  wasm-bindgen --target web --no-typescript --keep-lld-exports --remove-name-section \
    --remove-producers-section --out-dir "$stage/bindgen" --out-name meridian "$stage/split/meridian.wasm"
  [ "$mode" != debug ] && compress=(--compress)
  python3 scripts/bundle.py "$stage" "$site/pkg" style/main.css "${compress[@]}"
  rm -rf "$stage"
}

echo "==> browser bundle ($mode)"
cargo build -p meridian-frontend --lib --target wasm32-unknown-unknown --profile "$wasm_profile"
input=target/wasm32-unknown-unknown/$wasm_dir/meridian_frontend.wasm
# When nothing the bundle is made from changed, the last one stands: a second `make run` starts in
# seconds, not after another optimisation and compression pass.
source_id="$(cat "$input" style/main.css scripts/build.sh scripts/bundle.py | sha256sum | cut -c1-32) $wasm_profile"
if [ "$(cat "$site/pkg/source.id" 2>/dev/null)" = "$source_id" ] && [ -f "$site/pkg/hash.txt" ]; then
  echo "(bundle unchanged)"
else
  make_bundle "$input"
  echo "$source_id" > "$site/pkg/source.id"
fi
# xterm.js for the VM page's serial console, from npm (scripts/setup.sh installs .tools); never a CDN.
xterm=.tools/node_modules/@xterm/xterm
if [ -f "$xterm/lib/xterm.js" ]; then
  mkdir -p "$site/pkg/xterm"
  cp "$xterm/lib/xterm.js" "$xterm/css/xterm.css" "$site/pkg/xterm/"
else
  echo "warning: $xterm is missing (run scripts/setup.sh): the VM page's console will not be interactive" >&2
fi
cp -r public/. "$site/"

echo "==> server ($mode)"
cargo build -p meridian "${server_flags[@]}"
