"""`python -m labhub.metrics`: the exporter (started by the hub as its managed service "metrics", or
alone: then only /metrics is served)."""

from __future__ import annotations

import logging
import sys

import docker
import docker.errors
from tornado.ioloop import IOLoop

from ..errors import ConfigError
from ..settings import load_settings
from ..state import ensure_secret, ensure_state_dir
from .exporter import exporter_for
from .web import make_app

log = logging.getLogger("labhub.metrics")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s labhub.metrics] %(message)s")
    try:
        settings = load_settings()
        client = docker.from_env(timeout=30)
        client.ping()
    except ConfigError as e:
        print(f"labhub.metrics: configuration error: {e}", file=sys.stderr)
        return 2
    except docker.errors.DockerException as e:
        print(f"labhub.metrics: no Docker engine answers ({e})", file=sys.stderr)
        return 1
    state = ensure_state_dir(settings.state_dir)  # the stop records live there
    exporter = exporter_for(settings, client)
    # Kept in the state folder so admins stay signed in to the page across restarts of the service.
    cookie_secret = ensure_secret(state, "metrics-cookie-secret")
    metrics = settings.metrics
    make_app(exporter, cookie_secret).listen(metrics.port, metrics.listen_ip)
    log.info("serving /metrics on http://%s:%d (sources: %s)", metrics.listen_ip, metrics.port,
             ", ".join(s.name for s in exporter.sources))
    IOLoop.current().start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
