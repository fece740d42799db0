#!/usr/bin/env bash
# Makes sure a Python venv with the pinned Synapse exists outside the clone (created once, ~1 min), and
# prints the venv's python on stdout. Progress and errors go to stderr. Used by .ci/run, the vitest
# global setup and the Matrix benchmark, so all three run the same homeserver.
#   LOOPBRIDGE_CACHE  where the venv lives (default ${XDG_CACHE_HOME:-~/.cache}/loopbridge)
set -euo pipefail
VERSION=1.163.2
CACHE=${LOOPBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loopbridge}
VENV=$CACHE/synapse-venv-$VERSION
say() { echo "ensure-synapse: $*" >&2; }

ready() { [ -f "$VENV/.complete" ] && "$VENV/bin/python" -c 'import synapse' 2>/dev/null; }
if ready; then echo "$VENV/bin/python"; exit 0; fi

mkdir -p "$CACHE"
# Two runs (a test run and a benchmark) may arrive here at once: one builds, the other waits for it.
exec 9>"$CACHE/synapse-venv.lock"
flock 9
if ready; then echo "$VENV/bin/python"; exit 0; fi

PY=$(command -v python3 || true)
[ -n "$PY" ] || { say "python3 is missing; install it (apt-get install -y python3 python3-venv)"; exit 1; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || {
  say "Synapse $VERSION needs Python >= 3.10; $PY is $("$PY" --version 2>&1)"; exit 1; }

rm -rf "$VENV"
if ! "$PY" -m venv "$VENV" >&2; then
  # Debian ships venv's ensurepip separately; a fresh machine may lack it.
  rm -rf "$VENV"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "python3 -m venv failed; installing Debian's python3-venv"
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2
    "$PY" -m venv "$VENV" >&2
  else
    say "python3 -m venv failed; install python3-venv (Debian/Ubuntu) and run again"; exit 1
  fi
fi
say "installing matrix-synapse==$VERSION into $VENV (about a minute, once)"
start=$(date +%s)
"$VENV/bin/pip" install -q --disable-pip-version-check "matrix-synapse==$VERSION" >&2
"$VENV/bin/python" -c 'import synapse' >&2
touch "$VENV/.complete"
say "installed in $(( $(date +%s) - start )) s"
echo "$VENV/bin/python"
