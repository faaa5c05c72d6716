"""The sessions service in swarm mode: the same idle and max-age rules, for servers on any node.

A server is found by its service's labels through the swarm manager, and asked about its kernels at
the address the hub itself uses (labhub.swarm.nodes.task_address). A swarm manager cannot exec into a
container on another node, so the in-container status file (`lab-session`) and terminal warnings are
single-host features; the GPU-idle rule reads no GPU utilisation here either, so a GPU holder is
stopped by its idle timeout and max age only (docs/scale-out.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..sessions.service import SessionsService
from ..spawner import LABEL_SERVER, LABEL_USER
from .nodes import live_task, node, task_address

log = logging.getLogger("labhub.sessions")


@dataclass(frozen=True)
class SwarmServer:
    """What the sessions service needs of a server: where it answers, and its labels."""

    name: str  # the service
    base: str  # http://<address>:<port>
    labels: dict


class SwarmSessionsService(SessionsService):
    def __init__(self, *args, reach: str, port: int = 8888, **kwargs):
        super().__init__(*args, **kwargs)
        self.reach, self.port = reach, port

    def container_of(self, username: str, servername: str) -> SwarmServer | None:
        api = self.docker.api
        services = api.services(filters={"label": [f"{LABEL_USER}={username}", f"{LABEL_SERVER}={servername}"]})
        for service in services:
            task = live_task(api, service["Spec"]["Name"])
            if task is None or task["Status"]["State"] != "running":
                continue
            where = node(api, task["NodeID"])
            if where is None or where.state != "ready":
                continue
            found = task_address(api, task, self.reach, self.network, self.port)
            if found is not None:
                return SwarmServer(service["Spec"]["Name"], f"http://{found[0]}:{found[1]}",
                                   dict(service["Spec"].get("Labels") or {}))
        return None

    def server_url(self, container: SwarmServer, server: dict) -> str:
        return f"{container.base}{server['url']}"

    def write_status(self, container, profile, obs, decision, now) -> None:
        pass  # no exec through a swarm manager (module docstring)

    def broadcast(self, container, decision) -> None:
        log.info("%s: stop warning not shown in terminals (swarm mode): %s", container.name, decision.reason)
