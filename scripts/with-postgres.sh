#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster: initdb in a temp dir, a free loopback port,
# MERIDIAN_TEST_DATABASE_URL pointing at it; the cluster is stopped and deleted afterwards.
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail

pg_bin=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb | tail -n 1)")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/meridian-pg.XXXXXX)

# initdb refuses to run as root: run the server as the postgres user in a directory it owns.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi

cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" "$pg_bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log"; exit 1; }
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300" start >/dev/null \
  || { cat "$dir/server.log"; exit 1; }

export MERIDIAN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
# Its log, for commands that look for what the database complained about (scripts/soak.sh).
export MERIDIAN_TEST_PG_LOG="$dir/server.log"
echo "PostgreSQL test cluster on 127.0.0.1:$port"
"$@"
