#!/usr/bin/env bash
# The hub's virtualenv in one line of output: pip's own output goes to a log file, shown only on failure.
#   make-venv.sh PYTHON VENV
set -euo pipefail
python=$1 venv=$2
log() { printf '[venv] %s\n' "$*" >&2; }
start=$(date +%s)
mkdir -p "$venv"
logfile=$venv/install.log
log "installing the hub's Python packages into $venv (log: $logfile)"
if ! { "$python" -m venv "$venv" && "$venv/bin/pip" install -c constraints.txt -e 'hub[test]'; } >"$logfile" 2>&1; then
  log "ERROR: the install failed; its last lines:"
  grep -v '^\s*$' "$logfile" | tail -n 15 >&2
  exit 1
fi
log "ready in $(( $(date +%s) - start ))s"
