"""What the swarm tests share: the simulated GPUs of each node, the profiles, and a hub on the swarm."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import docker

from labhub.gpu.store import LeaseStore
from tests.utils.hubprocess import Hub, free_port
from tests.utils.swarmcluster import SwarmCluster
from tests.utils.waiting import wait_for  # noqa: F401 - the swarm tests import it from here

PREFIX = "lhswarm"  # dind nodes lhswarm-m1, lhswarm-w1, ...; hubs lhswarm1, lhswarm2
NOTEBOOK = "labhub/base-notebook:latest"
HUB_IMAGE = "labhub/hub:latest"
# Simulated GPUs: generic resources of the nodes, as an NVIDIA host declares its real GPU UUIDs.
GPUS = {
    "m1": ("GPU-5a3e0001-0000-4000-8000-000000000001", "GPU-5a3e0001-0000-4000-8000-000000000002"),
    "w1": ("GPU-5a3e0002-0000-4000-8000-000000000001",),
    "w2": ("GPU-5a3e0003-0000-4000-8000-000000000001",),
}
IDLE = 20  # seconds of idleness before the `brief` profile's server is stopped
PROFILES = [
    {"slug": "small", "display_name": "Small", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M",
     "default": True},
    {"slug": "gpu-whole", "display_name": "GPU (whole)", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M",
     "gpu": {"mode": "whole"}},
    {"slug": "gpu-shared", "display_name": "GPU (shared)", "image": NOTEBOOK, "cpu_limit": 0.5,
     "mem_limit": "512M", "gpu": {"mode": "shared", "users_per_gpu": 2}},
    {"slug": "brief", "display_name": "Brief", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M",
     "idle_timeout": IDLE},
]


@dataclass
class SwarmHub(Hub):
    """A test hub whose Docker engine is the dind swarm's manager."""

    docker_host: str = ""

    @property
    def env(self) -> dict:
        return {**super().env, "DOCKER_HOST": self.docker_host}

    def cleanup_docker(self) -> None:
        pass  # everything it made lives in the dind nodes, which the cluster removes

    def leases(self):
        return LeaseStore(self.workdir / "state").leases()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def swarm_hub(workdir, cluster: SwarmCluster, name: str, swarm: dict, **settings) -> SwarmHub:
    base = {
        "hub": {"hub_ip": cluster.gateway},
        "spawner": {"kind": "swarm", "swarm": {"reach": "published", "poll_interval": 3, **swarm}},
        "gpu": {"service_port": free_port(), "reconcile_interval": 5, "queue_timeout": 600},
        "sessions": {"enabled": False},
        "metrics": {"enabled": False},
    }
    for section, values in settings.items():
        base.setdefault(section, {}).update(values)
    return SwarmHub(workdir, name=name, profiles=PROFILES, settings=base, docker_host=cluster.manager.url)


def keep_log(hub: Hub) -> None:
    if os.environ.get("LHSWARM_KEEP_LOG"):  # pytest rotates tmp folders; keep the hub's log for a post-mortem
        shutil.copy(hub.log_path, f"{os.environ['LHSWARM_KEEP_LOG']}.{hub.name}.log")


# --- reading the swarm the way an admin would ------------------------------------------------------

def service_of(manager: docker.DockerClient, hub: Hub, user: str):
    found = [s for s in manager.services.list(filters={"label": f"labhub.user={user}"})
             if s.name.startswith(f"{hub.prefix}-")]
    assert len(found) == 1, [s.name for s in found]
    return found[0]


def running_task(service) -> dict:
    tasks = [t for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]
    assert len(tasks) == 1, tasks
    return tasks[0]


def node_of(manager: docker.DockerClient, service) -> str:
    return manager.nodes.get(running_task(service)["NodeID"]).attrs["Description"]["Hostname"]


def container_on_node(cluster: SwarmCluster, hostname: str, hub: Hub, user: str):
    node = next(n for n in cluster.nodes.values() if n.name == hostname)
    found = node.client().containers.list(filters={"label": f"labhub.user={user}", "name": f"{hub.prefix}-"})
    assert len(found) == 1, found
    return found[0]
