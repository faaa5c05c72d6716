"""The lab-wide GPU inventory of a swarm: every node's GPUs, declared as generic resources
(dockerd --node-generic-resource NVIDIA-GPU=GPU-<uuid>), as units named <node>/<uuid> (gpus.py)."""

from __future__ import annotations

import docker
import docker.errors

from ...errors import ConfigError
from ...gpu.model import GpuUnit, Inventory
from .nodes import GPU_RESOURCE, Node, nodes


def unit_name(node: Node, gpu: str) -> str:
    return f"{node.hostname}/{gpu}"


def device_of(unit: str) -> str:
    """What NVIDIA_VISIBLE_DEVICES takes on the unit's node: its UUID (or index)."""
    return unit.rpartition("/")[2]


def inventory_of(found: list[Node]) -> Inventory:
    units = [GpuUnit(f"{n.hostname}:{i}", unit_name(n, gpu), f"{GPU_RESOURCE} {gpu} on {n.hostname}", 0)
             for n in found for i, gpu in enumerate(n.gpus)]
    detail = "" if units else f"no swarm node declares {GPU_RESOURCE} generic resources (docs/scale-out.md)"
    return Inventory("swarm", tuple(units), detail)


def swarm_inventory(client: docker.DockerClient | None = None) -> Inventory:
    """Every node's GPUs (nodes that are down too: their leases stay known)."""
    client = client or docker.from_env()
    try:
        return inventory_of(nodes(client.api))
    except docker.errors.APIError as e:
        raise ConfigError(f"gpu.inventory: swarm, but the Docker engine at {client.api.base_url} is not a swarm "
                          f"manager ({e.explanation}). Point DOCKER_HOST at a manager (docs/scale-out.md).") from None
    except docker.errors.DockerException as e:
        raise ConfigError(f"gpu.inventory: swarm, but no Docker engine answers ({e})") from None
