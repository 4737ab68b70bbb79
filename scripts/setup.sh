#!/usr/bin/env bash
# Installs what Meridian needs and skips what is already there. Nothing here downloads a prebuilt
# binary: Rust tools build from crates.io, system packages come from Debian, JS tools from npm.
# Usage: scripts/setup.sh run    (toolchain to build and run)
#        scripts/setup.sh test   (the above, plus Chromium, PostgreSQL, the browser-test packages,
#                                 QEMU and the guest image the agent's tests boot)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-run}

say() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup first" >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The wasm-bindgen CLI must be exactly the version in Cargo.lock.
wbg_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg_version" ]; then
  say "installing wasm-bindgen-cli $wbg_version (builds from source, about 3 minutes)"
  cargo install wasm-bindgen-cli --version "$wbg_version"
fi

# wasm-split cuts the browser bundle into a module per page loaded on demand (scripts/build.sh).
wsplit_version=0.2.4
if [ "$(cat "${CARGO_HOME:-$HOME/.cargo}/.meridian-wasm-split" 2>/dev/null)" != "$wsplit_version" ] ||
  ! command -v wasm-split-cli >/dev/null; then
  say "installing wasm-split-cli $wsplit_version (builds from source, about 2 minutes)"
  cargo install --locked wasm_split_cli_support --version "$wsplit_version" --features build-binary
  echo "$wsplit_version" > "${CARGO_HOME:-$HOME/.cargo}/.meridian-wasm-split"
fi
command -v python3 >/dev/null || { say "installing Python (the bundle's last step)"; apt_install python3; }

# Release builds compress the browser bundle once, at build time (gzip is in every Debian).
command -v brotli >/dev/null || { say "installing brotli"; apt_install brotli; }

command -v npm >/dev/null || { say "installing Node.js and npm"; apt_install nodejs npm; }

# From npm: xterm.js for the VM page's console (both kinds of setup build the site).
if [ ! -f .tools/node_modules/@xterm/xterm/lib/xterm.js ]; then
  say "installing xterm.js from npm"
  (cd .tools && npm install --no-audit --no-fund --silent)
fi

if [ "$what" = test ]; then
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's Chromium for the browser tests"
    apt_install chromium
  fi
  if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "installing PostgreSQL for the store tests"
    apt_install postgresql
  fi
  command -v curl >/dev/null && command -v jq >/dev/null || { say "installing curl and jq for the REST worked example"; apt_install curl jq; }
  python3 -c 'import ensurepip' 2>/dev/null || { say "installing Python's venv module"; apt_install python3-venv; }
  say "the CloudStack clients the API tests drive Meridian with (cs, libcloud: a throw-away venv)"
  scripts/api-clients.sh >/dev/null
  if ! command -v qemu-system-x86_64 >/dev/null; then
    say "installing Debian's QEMU for the agent's tests (they boot real VMs)"
    apt_install qemu-system-x86
  fi
  # The lab tests: namespaces and taps (iproute2), SSH into the guests (OpenSSH's client), finding
  # processes (procps).
  command -v ip >/dev/null || apt_install iproute2
  command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || apt_install openssh-client
  command -v pgrep >/dev/null || apt_install procps
  # A test that hangs is shown thread by thread before it is stopped (scripts/test.sh).
  command -v gdb >/dev/null || apt_install gdb
  # The lab's backbone: bird2's OSPF in every router namespace; ping measures its round trips.
  command -v bird >/dev/null || { say "installing bird2 for the lab's backbone routers"; apt_install bird2; }
  command -v ping >/dev/null || apt_install iputils-ping
  # Tenant networks: nftables for the ports' anti-spoofing rules, nsenter (util-linux) to start agents.
  command -v nft >/dev/null || apt_install nftables
  command -v nsenter >/dev/null || apt_install util-linux
  # The guest image is built from Debian packages: dpkg-deb and readelf take them apart.
  command -v readelf >/dev/null || apt_install binutils
  if ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
    as_root apt-get update -qq; apt_updated=1
  fi
  say "the guest image the agent's tests boot (.cache/guest/image; skipped when current)"
  scripts/guest-image.sh .cache/guest/image
  if [ ! -d end2end/node_modules/@playwright/test ] || [ ! -d end2end/node_modules/@axe-core/playwright ]; then
    say "installing the browser-test packages (Playwright without its browser download, axe-core)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
  fi
fi
