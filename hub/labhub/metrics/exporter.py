"""The exporter: one Prometheus collector over independent sources (containers, volumes, stops, GPUs,
submissions). A source that fails is left out of that scrape and reported as down; the others still
answer, so a stuck Docker engine does not hide the stop counts."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from ..backend import backend_for
from ..profiles import load_profiles
from .cgroups import CgroupReader
from .containers import ContainerSource
from .gpu import gpu_source
from .stops import StopsSource
from .submissions import submissions_source
from .volumes import VolumesSource

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str

    def describe(self) -> Iterable[Metric]: ...  # the families it exports, without samples

    def collect(self) -> Iterable[Metric]: ...


class Exporter:
    def __init__(self, sources: list[Source]):
        self.sources = sources
        self._last_error: dict[str, str] = {}

    @staticmethod
    def _families() -> dict:
        return {
            "up": GaugeMetricFamily(
                "labhub_exporter_source_up", "1 if the source answered in this scrape, 0 if it failed",
                labels=["source"]),
            "duration": GaugeMetricFamily(
                "labhub_exporter_source_duration_seconds", "Time the source took in this scrape", labels=["source"]),
        }

    def describe(self):
        for source in self.sources:
            yield from source.describe()
        yield from self._families().values()

    def collect(self):
        own = self._families()
        for source in self.sources:
            started = time.perf_counter()
            try:
                families = list(source.collect())
                up = 1
                self._last_error.pop(source.name, None)
            except Exception as e:
                families, up = [], 0
                # A traceback when the failure is new, one line while it goes on (every scrape).
                if self._last_error.get(source.name) != repr(e):
                    log.exception("metrics source %s failed", source.name)
                else:
                    log.warning("metrics source %s still fails: %s", source.name, e)
                self._last_error[source.name] = repr(e)
            own["duration"].add_metric([source.name], time.perf_counter() - started)
            own["up"].add_metric([source.name], up)
            yield from families
        yield from own.values()

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        registry.register(self)
        return registry

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)


def build_sources(settings, client) -> list[Source]:
    """Every source this lab has, from the validated settings and a Docker client."""
    metrics = settings.metrics
    profiles = [p.slug for p in load_profiles(settings.profiles_dir).profiles]
    # Servers on many nodes (swarm): each node's exporter has their figures (labhub.backend.swarm.node_metrics).
    containers = [] if not backend_for(settings, client).local_servers else [
        ContainerSource(client, settings.spawner.container_prefix, CgroupReader(settings.path(metrics.cgroup_root)))]
    sources: list[Source] = [
        *containers,
        VolumesSource(client, settings.path(metrics.volumes_path) if metrics.volumes_path else None,
                      fallback=settings.state_dir, prefix=settings.spawner.container_prefix,
                      home_dir=settings.spawner.home_dir),
        StopsSource(settings.state_dir, profiles),
    ]
    # Features that may not be configured on this lab add their source when they are.
    sources.extend(s for s in (gpu_source(settings, client), submissions_source(settings)) if s is not None)
    return sources


def exporter_for(settings, client) -> Exporter:
    return Exporter(build_sources(settings, client))
