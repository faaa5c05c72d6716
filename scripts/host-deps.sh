#!/usr/bin/env bash
# Install the host tools labhub needs from Debian packages, only those missing. Idempotent.
#   host-deps.sh hub    configurable-http-proxy (the hub starts it)
#   host-deps.sh test   the above + Chromium and its driver, Prometheus/promtool, docker-compose
set -euo pipefail
log() { printf '[host-deps] %s\n' "$*" >&2; }

want=()
if [ "${1:-hub}" = test ]; then
  want+=(chromium:chromium chromedriver:chromium-driver prometheus:prometheus promtool:prometheus
         docker-compose:docker-compose debootstrap:debootstrap)
fi

# configurable-http-proxy: npm's package where npm is present (it runs on whatever Node.js is
# installed); Debian's node-configurable-http-proxy only works with Debian's own nodejs.
if ! configurable-http-proxy --version >/dev/null 2>&1; then
  if command -v npm >/dev/null 2>&1; then
    log "installing configurable-http-proxy with npm"
    npm install -g --silent configurable-http-proxy >/dev/null 2>&1 || { log "ERROR: npm install -g configurable-http-proxy failed"; exit 1; }
  else
    want+=(configurable-http-proxy:node-configurable-http-proxy)
  fi
fi

missing=()
for item in "${want[@]}"; do
  command -v "${item%%:*}" >/dev/null 2>&1 || missing+=("${item#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "ERROR: missing ${missing[*]}: install them with your package manager (Debian package names)"
  exit 1
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
} || { log "ERROR: apt-get install ${missing[*]} failed"; exit 1; }
# Debian starts the prometheus service on install; labhub's tests run their own.
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  (systemctl stop prometheus prometheus-node-exporter 2>/dev/null || pkill -x prometheus || true) >/dev/null 2>&1
fi
