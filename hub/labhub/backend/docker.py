"""The single-host backend: user servers are containers of this host's Docker engine (LabSpawner)."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import docker
import docker.errors

from ..labels import SERVER as LABEL_SERVER
from ..labels import USER as LABEL_USER
from ..network import ensure_network
from .base import EngineBackend, Server

log = logging.getLogger("labhub.backend")


def docker_time(value: str) -> float:
    """Epoch seconds of a Docker timestamp (nanoseconds, Z); now when there is none."""
    if not value or value.startswith("0001-"):
        return time.time()
    head, _, rest = value.rstrip("Z").partition(".")
    frac = "".join(ch for ch in rest if ch.isdigit())[:6]
    return datetime.fromisoformat(f"{head}.{frac or '0'}+00:00").timestamp()


def container_states(client: docker.DockerClient) -> dict[str, float | None]:
    """labhub containers by name: None while running (or about to), else when they stopped."""
    states: dict[str, float | None] = {}
    for c in client.api.containers(all=True, filters={"label": LABEL_USER}):
        name = c["Names"][0].lstrip("/") if c.get("Names") else c["Id"]
        if c["State"] in ("running", "paused", "restarting", "created"):
            states[name] = None
        else:
            try:
                finished = client.api.inspect_container(c["Id"])["State"].get("FinishedAt", "")
                states[name] = docker_time(finished)
            except Exception:  # removed meanwhile
                states.pop(name, None)
    return states


def exec_fixed(container, command: list[str], environment: dict[str, str]) -> bool:
    """`docker exec` as uid 1000 from cwd / (never the user's folders): the only way services write
    into a user's container."""
    try:
        container.exec_run(command, user="1000", workdir="/", environment=environment)
    except docker.errors.APIError as e:
        log.debug("cannot exec in %s: %s", container.name, e)
        return False
    return True


class DockerBackend(EngineBackend):
    kind = "docker"
    can_exec = True
    local_servers = True

    def __init__(self, settings, client: docker.DockerClient | None = None):
        super().__init__(settings, client)
        self.isolate = settings.spawner.isolate_containers

    def server(self, user: str, servername: str) -> Server | None:
        found = self.client.containers.list(filters={"label": [f"{LABEL_USER}={user}", f"{LABEL_SERVER}={servername}"]})
        if not found:
            return None
        container = found[0]
        networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
        address = (networks.get(self.network) or {}).get("IPAddress") or None
        return Server(container.name, dict(container.labels or {}), address, container)

    def exec(self, server: Server, command: list[str], environment: dict[str, str]) -> bool:
        return exec_fixed(server.handle, command, environment)

    def server_states(self) -> dict[str, float | None]:
        return container_states(self.client)

    def hub_address(self) -> tuple[str, str]:
        # The gateway of the labhub bridge network: the hub's side of it, not every interface of the host.
        gateway = ensure_network(self.client, self.network, self.isolate)
        return gateway, gateway

    def gpu_broker(self, broker):
        return broker  # device requests by UUID (labhub.gpu.broker) where an NVIDIA runtime exists

    def configure_hub(self, c, settings) -> None:
        c.LabSpawner.remove = True  # containers are disposable; the home volume is not
