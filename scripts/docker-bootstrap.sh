#!/usr/bin/env bash
# Make sure a Docker engine answers. Idempotent:
#  - an engine that already answers `docker info` is left alone;
#  - otherwise docker.io is installed from Debian (when dockerd is missing) and dockerd is started
#    in the background, then we wait until it answers.
# Used by .ci/run, `make up` and `make test`.
set -euo pipefail

log() { printf '[docker-bootstrap] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

DOCKER_WAIT_S="${DOCKER_WAIT_S:-60}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"

engine_up() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_up; then
  log "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "no Docker engine answers and starting one needs root: run 'sudo $0' or start your system's dockerd"

if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "dockerd is missing and this is not a Debian/Ubuntu host: install a Docker engine first"
  log "installing docker.io from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed (no access to the Debian mirror?)"
  apt-get install -y -qq docker.io >/dev/null || die "apt-get install docker.io failed"
fi

# A machine handed back after a stop may keep a pid file of a dockerd that no longer exists.
for pidfile in /var/run/docker.pid /run/docker/containerd/containerd.pid; do
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
    log "removing stale $pidfile"
    rm -f "$pidfile"
  fi
done

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: $DOCKERD_LOG)"
  # setsid: dockerd must outlive the shell (and the make/CI step) that started it.
  setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 "$DOCKER_WAIT_S"); do
  if engine_up; then
    log "engine up ($(docker version --format '{{.Server.Version}}'), storage $(docker info --format '{{.Driver}}'))"
    exit 0
  fi
  sleep 1
done
tail -n 20 "$DOCKERD_LOG" >&2 || true
die "dockerd did not answer within ${DOCKER_WAIT_S}s (see $DOCKERD_LOG)"
