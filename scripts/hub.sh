#!/usr/bin/env bash
# Run the hub on this host from the repo's virtualenv.
#   hub.sh start   start it in the background (log: <state>/hub.log), wait until it answers
#   hub.sh stop    stop it and the user servers (KEEP_SERVERS=1 leaves them running); volumes are kept
#   hub.sh status
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
VENV="${VENV:-$root/.venv}"
[ -z "${LABHUB_CONFIG:-}" ] && [ -f "$root/labhub.yaml" ] && export LABHUB_CONFIG="$root/labhub.yaml"

# state_dir, url, admin, container prefix of the current settings (fails with the one-line cause on a bad config)
settings=$("$VENV/bin/labhub" info --shell) || exit 1
eval "$settings"
pidfile="$STATE_DIR/jupyterhub.pid"
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-status}" in
start)
  if running; then echo "labhub is already running at $URL"; exit 0; fi
  mkdir -p "$STATE_DIR"
  log="$STATE_DIR/hub.log"
  : >>"$log"
  start_line=$(($(wc -l <"$log") + 1))
  setsid "$VENV/bin/jupyterhub" -f "$root/hub/jupyterhub_config.py" >>"$log" 2>&1 </dev/null &
  hub_pid=$!
  for _ in $(seq 1 90); do
    # A liveness probe of this machine's own hub: a self-signed certificate (make cert) is fine here.
    if curl -fsS --insecure -o /dev/null "$URL/hub/health" 2>/dev/null; then
      echo
      echo "labhub is up: $URL"
      if [ -f "$STATE_DIR/admin-password" ]; then
        echo "log in as '$ADMIN' with the password in $STATE_DIR/admin-password"
      else
        echo "log in as '$ADMIN' (password: the one you set in \$LABHUB_ADMIN_PASSWORD on first start)"
      fi
      for other in "$STATE_DIR"/admin-password-*; do
        [ -f "$other" ] && echo "the other admin '${other##*/admin-password-}' has the password in $other"
      done
      echo "new users sign up at $URL/hub/signup; approve them at $URL/hub/authorize"
      echo "stop with 'make down' (user data is kept); log: $log"
      exit 0
    fi
    if ! kill -0 "$hub_pid" 2>/dev/null; then
      grep -h "labhub: configuration error" <(tail -n +"$start_line" "$log") >&2 || tail -n 20 "$log" >&2
      echo "labhub did not start (log: $log)" >&2
      exit 1
    fi
    sleep 1
  done
  echo "labhub did not answer at $URL within 90 s (log: $log)" >&2
  exit 1
  ;;
stop)
  if running; then
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "hub stopped"
  else
    echo "hub is not running"
  fi
  if [ "${KEEP_SERVERS:-0}" != 1 ]; then
    mapfile -t ids < <(docker ps -q --filter label=labhub.user --filter "name=^${CONTAINER_PREFIX}-")
    if [ ${#ids[@]} -gt 0 ]; then
      # A graceful stop: jupyterhub-singleuser shuts the kernels down; files are on the home volumes.
      docker stop -t 30 "${ids[@]}" >/dev/null
      echo "stopped ${#ids[@]} user server(s); home volumes kept"
    fi
  fi
  # Helpers of the submissions service (fetch, grading) left by a hub that was killed: the service
  # removes its own when it stops; these would otherwise run until their own time limit.
  mapfile -t helpers < <(docker ps -aq --filter "label=labhub.helper=${CONTAINER_PREFIX}")
  [ ${#helpers[@]} -gt 0 ] && docker rm -f "${helpers[@]}" >/dev/null
  true
  ;;
status)
  if running; then echo "running (pid $(cat "$pidfile")) at $URL"; else echo "not running"; exit 3; fi
  ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
