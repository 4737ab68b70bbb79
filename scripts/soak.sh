#!/usr/bin/env bash
# The crash-and-race soak on a throw-away PostgreSQL cluster: two servers share the database,
# clients race operations on the same VMs through both, an admin cancels fresh jobs, and every
# 3-15 s one server is SIGKILLed and started again; at the end every job must finish and every
# invariant hold. Prints what it did and how many deadlocks PostgreSQL and the servers logged.
# Usage: scripts/soak.sh [MINUTES]   (default 10; not part of `make test`)
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-10}
log=$(mktemp /tmp/meridian-soak.XXXXXX.log)
export MERIDIAN_SOAK_SECS=$((minutes * 60)) MERIDIAN_SOAK_LOG=$log
# shellcheck disable=SC2016 # expanded by the inner shell, which with-postgres.sh sets up
scripts/with-postgres.sh bash -c '
  status=0
  cargo test -p meridian --test crash --locked soak_racing -- --ignored --nocapture || status=$?
  echo "PostgreSQL log: $(grep -c "deadlock detected" "$MERIDIAN_TEST_PG_LOG" || true) deadlocks"
  exit $status'
echo "servers log ($log): $(grep -ci deadlock "$log" || true) lines mention a deadlock, $(grep -c " ERROR " "$log" || true) errors"
