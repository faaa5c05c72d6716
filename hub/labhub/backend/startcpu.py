"""What a server start cost: the CPU-seconds of a user's just-started container, from its cgroup.

The admission line (labhub.admission) asks right after the server answered, on a worker thread: this
module blocks on the Docker API and the cgroup files.
"""

from __future__ import annotations

import docker

from ..labels import USER as LABEL_USER
from ..metrics.cgroups import CgroupReader, usage_from_docker_stats


class StartCpu:
    """`probe(user)`: CPU-seconds of `user`'s most recently started server container, or None."""

    def __init__(self, client_factory=docker.from_env, cgroups: CgroupReader | None = None):
        self._client_factory = client_factory
        self._client = None
        self._cgroups = cgroups or CgroupReader()

    def __call__(self, user: str) -> float | None:
        if self._client is None:
            self._client = self._client_factory()
        # The line knows the user, not the container: of the user's servers (named servers may run
        # beside the default one) the one that started last is the one that just answered.
        found = self._client.api.containers(filters={"label": f"{LABEL_USER}={user}", "status": "running"})
        if not found:
            return None
        newest = max(found, key=lambda c: c.get("Created", 0))["Id"]
        usage = self._cgroups.usage(newest) if self._cgroups.available else None
        if usage is None:  # cgroups not visible here (the hub in a container): Docker's slower figure
            usage = usage_from_docker_stats(self._client.api.stats(newest, stream=False))
        return usage.cpu_seconds
