"""The lab at a glance, as plain data: what the admin page shows and its JSON API returns.

Built from the exporter's own sources (so the page and Prometheus never disagree) plus the hub's
/hub/metrics for what lives in the hub process (the admission line, the running-server count).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from .exporter import Exporter

# Read from the hub's /hub/metrics: name in the hub -> key in the overview.
HUB_FIGURES = {
    "jupyterhub_running_servers": "running_servers",
    "jupyterhub_total_users": "total_users",
    "labhub_spawn_queue_length": "queue_length",
    "labhub_spawn_starts_in_progress": "starts_in_progress",
    "labhub_spawn_queue_oldest_wait_seconds": "queue_oldest_wait_s",
}


@dataclass
class Overview:
    generated_at: float
    servers: list[dict] = field(default_factory=list)
    stop_counts: list[dict] = field(default_factory=list)
    recent_stops: list[dict] = field(default_factory=list)
    disk: dict | None = None
    hub: dict | None = None  # None: the hub's metrics could not be read
    gpu: dict | None = None  # None: no GPU source on this lab
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def hub_figures(metrics_text: str) -> dict[str, float]:
    figures = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name in HUB_FIGURES and not sample.labels:
                figures[HUB_FIGURES[sample.name]] = sample.value
    return figures


def build_overview(exporter: Exporter, recent_stops: int = 20) -> Overview:
    """Everything but the hub's figures (those are fetched over HTTP by the caller)."""
    overview = Overview(generated_at=time.time())
    containers = exporter.source("containers")
    if containers is not None:
        try:
            for c in sorted(containers.read(), key=lambda c: (c.user, c.server)):
                usage = c.usage
                overview.servers.append({
                    "user": c.user, "server": c.server, "profile": c.profile, "image": c.image,
                    "created": c.created, "cpu_percent": c.cpu_percent,
                    "cpu_seconds": usage.cpu_seconds if usage else None,
                    "memory_bytes": usage.memory_working_set if usage else None,
                    "memory_limit_bytes": usage.memory_limit if usage else None,
                })
        except Exception as e:  # the page still shows the rest
            overview.errors.append(f"containers: {e}")
    stops = exporter.source("stops")
    if stops is not None:
        try:
            overview.stop_counts = [{"profile": p, "reason": r, "count": n}
                                    for (p, r), n in sorted(stops.read().items()) if n]
            overview.recent_stops = [asdict(s) for s in stops.records.recent(recent_stops)]
        except Exception as e:
            overview.errors.append(f"stops: {e}")
    volumes = exporter.source("volumes")
    if volumes is not None:
        try:
            size, avail = volumes.read()
            overview.disk = {"path": str(volumes.path), "size_bytes": size, "avail_bytes": avail}
        except Exception as e:
            overview.errors.append(f"volumes: {e}")
    gpu = exporter.source("gpu")
    if gpu is not None:
        try:
            overview.gpu = gpu.overview()
        except Exception as e:
            overview.errors.append(f"gpu: {e}")
    return overview
