#!/usr/bin/env bash
# Fuzzes every parser of untrusted input in meridian-core (core/fuzz/fuzz_targets) with cargo-fuzz
# and libFuzzer: CIDRs, SSH keys, cloud-config user data, form bodies, and CloudStack API requests
# (signatures, expiry times). Installs nightly Rust and
# cargo-fuzz if missing. Usage: scripts/fuzz.sh [seconds per target, default 60] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(cidr ssh_key user_data forms cloudstack)
fi

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz

cd core/fuzz
for target in "${targets[@]}"; do
  echo "==> fuzzing $target for ${seconds}s"
  mkdir -p "corpus/$target"
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -4
done
echo "No crash in ${#targets[@]} targets × ${seconds}s."
