"""`python -m labhub.metrics`: the exporter (started by the hub as its managed service "metrics", or
alone: then only /metrics is served)."""

from __future__ import annotations

import sys

import docker
import docker.errors
from tornado.ioloop import IOLoop

from ..errors import ConfigError
from ..service.cookies import cookie_secret
from ..service.logs import setup_logging
from ..settings import load_settings
from ..state import ensure_state_dir
from .exporter import exporter_for
from .web import make_app


def main() -> int:
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
    log = setup_logging("metrics", settings.hub.log_level)
    ensure_state_dir(settings.state_dir)  # the stop records live there
    exporter = exporter_for(settings, client)
    metrics = settings.metrics
    make_app(exporter, cookie_secret(settings.state_dir, "metrics")).listen(metrics.port, metrics.listen_ip)
    log.info("serving /metrics on http://%s:%d (sources: %s)", metrics.listen_ip, metrics.port,
             ", ".join(s.name for s in exporter.sources))
    IOLoop.current().start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
