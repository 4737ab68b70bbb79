#!/usr/bin/env bash
# Builds Meridian: the browser bundle (WASM + JS + CSS + public files) into target/site, and the
# server binary. Usage: scripts/build.sh [debug|release]   (default: debug)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-debug}
case "$mode" in
  debug)   wasm_profile=dev;          wasm_dir=debug;        server_flags=() ;;
  release) wasm_profile=wasm-release; wasm_dir=wasm-release; server_flags=(--release) ;;
  *) echo "usage: $0 [debug|release]" >&2; exit 2 ;;
esac

site=target/site
mkdir -p "$site/pkg"

echo "==> browser bundle ($mode)"
cargo build -p meridian-frontend --lib --target wasm32-unknown-unknown --profile "$wasm_profile"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name meridian \
  "target/wasm32-unknown-unknown/$wasm_dir/meridian_frontend.wasm"
if [ "$mode" = release ] && [ -x .tools/node_modules/.bin/wasm-opt ]; then
  # npm's binaryen: Debian's binaryen 108 silently breaks hydration.
  .tools/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$site/pkg/meridian_bg.wasm" -o "$site/pkg/meridian_bg.wasm"
fi
cat style/main.css > "$site/pkg/meridian.css"
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
