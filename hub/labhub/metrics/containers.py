"""Source "containers": every running user container of this lab, with its user, profile and usage.

Containers are found by the labels LabSpawner puts on them; CPU and memory come from the cgroup files
(microseconds). Where those are not visible, Docker's stats endpoint is read in the background (it takes
about a second per container) and a scrape gets the latest figures it has, so it never waits on it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker.errors
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..labels import PROFILE as LABEL_PROFILE
from ..labels import SERVER as LABEL_SERVER
from ..labels import USER as LABEL_USER
from .cgroups import CgroupReader, Usage, usage_from_docker_stats

log = logging.getLogger(__name__)

LABELS = ["user", "server", "profile"]
# CPU use in percent is measured over at least this long (the admin page refreshes faster).
_CPU_WINDOW_S = 2.0


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    user: str
    server: str
    profile: str
    image: str
    created: float
    usage: Usage | None
    cpu_percent: float | None = None  # of one CPU, since the previous reading

    @property
    def labels(self) -> list[str]:
        return [self.user, self.server, self.profile]


class _DockerStats:
    """Latest usage per container from Docker's stats endpoint, refreshed by a thread pool."""

    def __init__(self, client, workers: int):
        self.client = client
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="docker-stats")
        self._latest: dict[str, Usage] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def _refresh(self, container_id: str) -> None:
        try:
            usage = usage_from_docker_stats(self.client.api.stats(container_id, stream=False))
            with self._lock:
                self._latest[container_id] = usage
        except docker.errors.NotFound:
            pass
        except Exception as e:  # e.g. the container is being removed; the next scrape tries again
            log.warning("docker stats of %s failed: %s", container_id[:12], e)
        finally:
            with self._lock:
                self._pending.discard(container_id)

    def latest(self, container_ids: list[str]) -> dict[str, Usage | None]:
        """What is known now; a refresh of each container is started unless one is under way."""
        with self._lock:
            for cid in set(self._latest) - set(container_ids):
                del self._latest[cid]
            todo = [cid for cid in container_ids if cid not in self._pending]
            self._pending.update(todo)
            known = {cid: self._latest.get(cid) for cid in container_ids}
        for cid in todo:
            self._pool.submit(self._refresh, cid)
        return known


class ContainerSource:
    name = "containers"

    def __init__(self, client, prefix: str, cgroups: CgroupReader, stats_workers: int = 8):
        self.client = client
        self.prefix = prefix
        self.cgroups = cgroups
        self._stats = _DockerStats(client, stats_workers)
        self._cpu_samples: dict[str, tuple[float, float, float | None]] = {}
        self._lock = threading.Lock()

    def _listed(self) -> list[dict]:
        found = self.client.api.containers(filters={"label": LABEL_USER})
        # Only this lab's containers: another hub on the same engine uses another prefix.
        return [c for c in found if any(n.startswith(f"/{self.prefix}-") for n in c.get("Names") or [])]

    def read(self) -> list[Container]:
        listed = self._listed()
        cgroups = self.cgroups if self.cgroups.available else None
        usages = {c["Id"]: cgroups.usage(c["Id"]) if cgroups else None for c in listed}
        missing = [cid for cid, usage in usages.items() if usage is None]
        if missing:
            usages.update(self._stats.latest(missing))
        now = time.monotonic()
        containers = []
        for c in listed:
            labels = c.get("Labels") or {}
            usage = usages[c["Id"]]
            containers.append(Container(
                id=c["Id"], name=c["Names"][0].lstrip("/"), user=labels.get(LABEL_USER, ""),
                server=labels.get(LABEL_SERVER, ""), profile=labels.get(LABEL_PROFILE, ""),
                image=c.get("Image", ""), created=float(c.get("Created", 0)), usage=usage,
                cpu_percent=self._cpu_percent(c["Id"], usage, now),
            ))
        with self._lock:  # forget containers that are gone
            for cid in set(self._cpu_samples) - set(usages):
                del self._cpu_samples[cid]
        return containers

    def _cpu_percent(self, container_id: str, usage: Usage | None, now: float) -> float | None:
        if usage is None:
            return None
        with self._lock:
            previous = self._cpu_samples.get(container_id)
            if previous is None:
                self._cpu_samples[container_id] = (now, usage.cpu_seconds, None)
                return None
            at, cpu, percent = previous
            if now - at >= _CPU_WINDOW_S:
                percent = max(usage.cpu_seconds - cpu, 0.0) / (now - at) * 100
                self._cpu_samples[container_id] = (now, usage.cpu_seconds, percent)
            return percent

    @staticmethod
    def _families() -> dict:
        return {
            "running": GaugeMetricFamily(
                "labhub_server_running", "1 for each running user server (its container), by user, server and profile",
                labels=LABELS),
            "started": GaugeMetricFamily(
                "labhub_container_created_time_seconds", "When the user's container was created (Unix time)",
                labels=LABELS),
            "cpu": CounterMetricFamily(
                "labhub_container_cpu_seconds", "CPU time used by the user's container", labels=LABELS),
            "memory": GaugeMetricFamily(
                "labhub_container_memory_working_set_bytes",
                "Memory of the user's container that cannot be reclaimed (usage minus inactive page cache)",
                labels=LABELS),
            "limit": GaugeMetricFamily(
                "labhub_container_memory_limit_bytes", "Memory limit of the user's container (absent: no limit)",
                labels=LABELS),
        }

    def describe(self):
        return list(self._families().values())

    def collect(self):
        families = self._families()
        for c in self.read():
            families["running"].add_metric(c.labels, 1)
            families["started"].add_metric(c.labels, c.created)
            if c.usage is not None:
                families["cpu"].add_metric(c.labels, c.usage.cpu_seconds)
                families["memory"].add_metric(c.labels, c.usage.memory_working_set)
                if c.usage.memory_limit is not None:
                    families["limit"].add_metric(c.labels, c.usage.memory_limit)
        return list(families.values())
