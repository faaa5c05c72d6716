"""The swarm backend: user servers are swarm services on many nodes, reached through a manager."""

from __future__ import annotations

import docker

from ...labels import SERVER as LABEL_SERVER
from ...labels import USER as LABEL_USER
from ..base import EngineBackend, Server
from ..docker import container_states
from .gpus import SwarmGpuBroker
from .hubside import configure_swarm
from .nodes import live_task, node, service_states, task_address


class SwarmBackend(EngineBackend):
    kind = "swarm"
    # A manager cannot exec into a container on another node: no status file, no terminal warnings.
    can_exec = False
    # Containers, cgroups and GPUs are on the nodes: each node's exporter reads them (node_metrics.py).
    local_servers = False

    def __init__(self, settings, client: docker.DockerClient | None = None):
        super().__init__(settings, client)
        self.reach = settings.spawner.swarm.reach

    def server(self, user: str, servername: str) -> Server | None:
        """The server's swarm service while a task of it runs on a ready node."""
        api = self.client.api
        services = api.services(filters={"label": [f"{LABEL_USER}={user}", f"{LABEL_SERVER}={servername}"]})
        for service in services:
            task = live_task(api, service["Spec"]["Name"])
            if task is None or task["Status"]["State"] != "running":
                continue
            where = node(api, task["NodeID"])
            if where is not None and where.state == "ready":
                found = task_address(api, task, self.reach, self.network, 0) if self.reach == "overlay" else None
                return Server(service["Spec"]["Name"], dict(service["Spec"].get("Labels") or {}),
                              found[0] if found else None)
        return None

    def exec(self, server: Server, command: list[str], environment: dict[str, str]) -> bool:
        return False

    def server_states(self) -> dict[str, float | None]:
        # The manager's own containers, and every server's service (a task on a down node is stopped).
        return {**container_states(self.client), **service_states(self.client.api)}

    def hub_address(self) -> tuple[str, str]:
        return "0.0.0.0", "hub"  # the hub is the swarm service "hub" on the overlay network (hubside.py)

    def gpu_broker(self, broker):
        return SwarmGpuBroker(broker, self.client.api)

    def configure_hub(self, c, settings) -> None:
        configure_swarm(c, settings, self.client)
