"""The GPU broker of a swarm-mode hub (the swarm's lab-wide GPU inventory: backend/swarm/inventory.py).

Every node declares its GPUs as generic resources (dockerd --node-generic-resource
NVIDIA-GPU=GPU-<uuid>, once per GPU). The lab's units are named <node>/<uuid>, so one lease store,
one queue and one set of quotas cover every node, a lease is always for GPUs of one node
(labhub.gpu.policy keeps a multi-GPU lease on one machine), and the spawner knows where to place it.

The hub decides which GPU a server gets (its lease), not swarm: the server is placed on the lease's
node and gets NVIDIA_VISIBLE_DEVICES=<uuid>. Services do not reserve the generic resources: Docker's
constraint enforcer would reject such tasks on every update of their node (docs/scale-out.md).
"""

from __future__ import annotations

from ...gpu.broker import GpuBroker
from ...labels import GPU as LABEL_GPU
from ...gpu.policy import node_of
from ...labels import GPU_NODE as LABEL_GPU_NODE
from .inventory import device_of, inventory_of
from .nodes import nodes


class SwarmGpuBroker(GpuBroker):
    """GpuBroker whose units are <node>/<uuid> and whose leases only go to nodes that take servers."""

    gpus_are_on = "the lab's nodes have"

    def __init__(self, broker: GpuBroker, api):
        super().__init__(broker.settings, broker.inventory, broker.store, device_requests=False,
                         poll_s=broker.poll_s)
        self.api = api

    def refresh(self) -> None:
        """Read the nodes again: GPUs of nodes that are down, drained or gone are not leased."""
        found = nodes(self.api)
        self.inventory = inventory_of(found)
        usable = {n.hostname for n in found if n.usable}
        self.store.policy.units = tuple(u for u in self.inventory.uuids if node_of(u) in usable)

    async def acquire(self, **kwargs):
        import asyncio

        await asyncio.to_thread(self.refresh)
        return await super().acquire(**kwargs)

    @staticmethod
    def node_of(lease) -> str | None:
        """The hostname of the node a lease's GPUs are on."""
        return node_of(lease.units[0]) if lease is not None and lease.units else None

    def env(self, lease) -> dict[str, str]:
        env = super().env(lease)
        if lease is not None:
            devices = ",".join(device_of(u) for u in lease.units)
            env.update(NVIDIA_VISIBLE_DEVICES=devices, LABHUB_GPU_UUIDS=devices, LABHUB_GPU_NODE=self.node_of(lease))
        return env

    def labels(self, lease) -> dict[str, str]:
        labels = super().labels(lease)
        if lease is not None:
            labels[LABEL_GPU] = ",".join(device_of(u) for u in lease.units)
            labels[LABEL_GPU_NODE] = self.node_of(lease)
        return labels

    def host_config(self, lease) -> dict:
        return {}  # services have no device requests: the node's NVIDIA runtime reads NVIDIA_VISIBLE_DEVICES
