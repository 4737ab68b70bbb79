#!/usr/bin/env bash
# Makes (once) a throw-away Python virtual environment in target/api-clients holding the real
# CloudStack clients the API tests use (`cs` and Apache libcloud, pinned in
# server/tests/api_clients/requirements.txt, from PyPI), and prints its python's path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/api-clients
requirements=server/tests/api_clients/requirements.txt
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
echo "$PWD/$venv/bin/python"
