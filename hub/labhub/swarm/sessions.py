"""The sessions service in swarm mode: the same idle and max-age rules, for servers on any node.

A server is found by its service's labels through the swarm manager, and judged like on one host from
the hub's data only: each server reports its own activity (busy kernels included) to the hub with its
own token, so the service never calls a user's server, on whatever node it runs. A swarm manager
cannot exec into a container on another node, so the in-container status file (`lab-session`) and
terminal warnings are single-host features; the GPU-idle rule reads no GPU utilisation here either,
so a GPU holder is stopped by its idle timeout and max age only (docs/scale-out.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..sessions.service import SessionsService
from ..labels import SERVER as LABEL_SERVER
from ..labels import USER as LABEL_USER
from .nodes import live_task, node

log = logging.getLogger("labhub.sessions")


@dataclass(frozen=True)
class SwarmServer:
    """What the sessions service needs of a server: its swarm service and labels."""

    name: str  # the service
    labels: dict


class SwarmSessionsService(SessionsService):
    def container_of(self, username: str, servername: str) -> SwarmServer | None:
        """The server's swarm service while a task of it runs on a ready node; else it is not judged."""
        api = self.docker.api
        services = api.services(filters={"label": [f"{LABEL_USER}={username}", f"{LABEL_SERVER}={servername}"]})
        for service in services:
            task = live_task(api, service["Spec"]["Name"])
            if task is None or task["Status"]["State"] != "running":
                continue
            where = node(api, task["NodeID"])
            if where is not None and where.state == "ready":
                return SwarmServer(service["Spec"]["Name"], dict(service["Spec"].get("Labels") or {}))
        return None

    def write_status(self, container, profile, obs, decision, now, gpu=None) -> None:
        pass  # no exec through a swarm manager (module docstring)

    def broadcast(self, container, decision) -> None:
        log.info("%s: stop warning not shown in terminals (swarm mode): %s", container.name, decision.reason)
