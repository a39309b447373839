#!/usr/bin/env bash
# Installs the pinned Python clients (hvac, psycopg) into a virtualenv for the client tests:
# .cache/python-clients, reused while requirements.txt is unchanged. Prints the interpreter path.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=test/clients/python/requirements.txt
venv=.cache/python-clients
stamp="$venv/requirements.sha256"
# Test files that need the clients may call this at the same time: one installs, the others wait.
mkdir -p .cache
exec 9>.cache/python-clients.lock
flock 9
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
  echo "$want" > "$stamp"
fi
echo "$PWD/$venv/bin/python"
