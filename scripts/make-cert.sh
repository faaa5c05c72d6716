#!/usr/bin/env bash
# A self-signed certificate and key for trying the lab over HTTPS (`make cert HOST=lab.example.org`).
# Written to <state folder>/tls/<host>.crt and .key (mode 0600); valid for the host, localhost and
# 127.0.0.1. Prints the two settings that turn TLS on. An existing pair is kept (delete it to renew).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
VENV="${VENV:-$root/.venv}"
host="${1:-}"
if [ -z "$host" ] || ! [[ "$host" =~ ^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$ ]]; then
  echo "make cert: give the name people type in the browser, e.g. make cert HOST=lab.example.org" >&2
  exit 2
fi
[ -z "${LABHUB_CONFIG:-}" ] && [ -f "$root/labhub.yaml" ] && export LABHUB_CONFIG="$root/labhub.yaml"
settings=$("$VENV/bin/labhub" info --shell) || exit 1
eval "$settings"
dir="$STATE_DIR/tls"
cert="$dir/$host.crt" key="$dir/$host.key"
if [ -f "$cert" ] && [ -f "$key" ]; then
  echo "keeping the certificate already in $cert (delete it and its key to make a new one)"
else
  mkdir -p "$dir"
  chmod 700 "$dir"
  # An IP address goes into the certificate as an IP entry, a name as a DNS entry.
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san="IP:$host"; else san="DNS:$host"; fi
  [ "$host" != localhost ] && san="$san,DNS:localhost"
  [ "$host" != 127.0.0.1 ] && san="$san,IP:127.0.0.1"
  (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 825 \
    -subj "/CN=$host" -addext "subjectAltName=$san" -addext "basicConstraints=critical,CA:FALSE" \
    -addext "extendedKeyUsage=serverAuth" -keyout "$key" -out "$cert" 2>/dev/null) \
    || { echo "make cert: openssl could not create the certificate (needs openssl 1.1.1 or newer)" >&2; exit 1; }
  chmod 600 "$key"
  chmod 644 "$cert"
  echo "self-signed certificate for $host ($san), valid 825 days: $cert"
fi
echo "put this in the settings file (${LABHUB_CONFIG:-labhub.yaml}), then 'make down && make up':"
echo
echo "hub:"
echo "  tls:"
echo "    cert: $cert"
echo "    key: $key"
echo
echo "browsers warn about a self-signed certificate until it is trusted: give people its fingerprint,"
echo "$(openssl x509 -in "$cert" -noout -fingerprint -sha256)"
