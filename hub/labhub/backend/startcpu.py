"""What a server start cost: the CPU-seconds of a just-started server's container, from its cgroup.

The admission line (labhub.admission) asks right after the server answered, on a worker thread: this
module blocks on the cgroup files and, where they are not visible, the Docker API.
"""

from __future__ import annotations

import docker
import docker.errors

from ..metrics.cgroups import CgroupReader, usage_from_docker_stats


class StartCpu:
    """`probe(container_id)`: CPU-seconds of that container so far, or None where this engine has no
    such container (gone, or a swarm task on another node)."""

    def __init__(self, client_factory=docker.from_env, cgroups: CgroupReader | None = None):
        self._client_factory = client_factory
        self._client = None
        self._cgroups = cgroups or CgroupReader()

    def __call__(self, container_id: str) -> float | None:
        usage = self._cgroups.usage(container_id) if self._cgroups.available else None
        if usage is None:  # cgroups not visible here (the hub in a container): Docker's slower figure
            if self._client is None:
                self._client = self._client_factory()
            try:
                stats = self._client.api.stats(container_id, stream=False)
            except docker.errors.NotFound:
                return None
            usage = usage_from_docker_stats(stats)
        return usage.cpu_seconds
