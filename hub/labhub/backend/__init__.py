"""The one seam between the lab and the engine its user servers run on.

Features (sessions, gpu, metrics, submissions, the hub's wiring) ask a `Backend` for what depends on the
engine and never look at `spawner.kind` themselves; `backend_for(settings)` picks the implementation:
- docker.py  one Docker engine on this host: servers are containers (the default)
- swarm/     Docker Swarm: servers are swarm services on many nodes (docs/scale-out.md)
- hardening.py  the confinement of every container of user code (servers and helpers), for both

Where an engine cannot do something, a capability flag says so (a swarm manager cannot exec into a
container on another node), and the feature leaves that part out instead of asking which engine it is.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import Backend, Server  # noqa: F401 - what features use
from .swarm.settings import SwarmSettings, check_modes  # noqa: F401 - the spawner.swarm section of the settings

if TYPE_CHECKING:
    import docker

# What tells the docker SDK which engine to use; the hub's managed services need the same.
DOCKER_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def service_environment() -> dict[str, str]:
    """The hub's Docker engine settings, for its managed services (JupyterHub starts them with a clean env)."""
    return {key: os.environ[key] for key in DOCKER_ENV if os.environ.get(key)}


def engine_client(error: type[Exception] = ConfigError,
                  hint: str = "start one with scripts/docker-bootstrap.sh") -> docker.DockerClient:
    """A client of the engine DOCKER_HOST names, checked to answer; `error` names what to do otherwise."""
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        raise error(f"no Docker engine answers ({e}); {hint}") from None
    return client


def backend_for(settings, client: docker.DockerClient | None = None) -> Backend:
    """The backend of these settings (spawner.kind); `client` defaults to the engine of DOCKER_HOST,
    connected on first use."""
    # Imported here: the implementations pull in the spawner, which the settings must not.
    if settings.spawner.kind == "swarm":
        from .swarm.backend import SwarmBackend

        return SwarmBackend(settings, client)
    from .docker import DockerBackend

    return DockerBackend(settings, client)
