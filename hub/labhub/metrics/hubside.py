"""What the hub process itself adds for monitoring.

- The admission line lives in the hub process, so its length and wait are served on the hub's own
  /hub/metrics (JupyterHub serves prometheus-client's default registry there).
- Prometheus reads /hub/metrics with a token of its own: the service "prometheus", whose role holds
  nothing but read:metrics. The token is generated into the state folder, never committed.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from ..state import ensure_secret, ensure_state_dir

PROMETHEUS_SERVICE = "prometheus"
TOKEN_FILE = "prometheus-token"


class AdmissionCollector:
    """labhub_spawn_queue_*: the spawns waiting for a start slot, read at scrape time."""

    def collect(self):
        from ..spawner import LabSpawner  # the hub process has it loaded already

        admission = LabSpawner._admission  # created at the first spawn
        waiting = GaugeMetricFamily("labhub_spawn_queue_length", "Spawns waiting in line for a start slot")
        running = GaugeMetricFamily(
            "labhub_spawn_starts_in_progress", "Container starts holding a slot (until the server answers)")
        oldest = GaugeMetricFamily(
            "labhub_spawn_queue_oldest_wait_seconds", "How long the first spawn in line has waited (0: none waits)")
        waiting.add_metric([], admission.waiting if admission else 0)
        running.add_metric([], admission.running if admission else 0)
        oldest.add_metric([], admission.oldest_wait_s if admission else 0.0)
        families = [waiting, running, oldest]
        if admission is not None:  # the sessions service times warm-ups by it (labhub.sessions.warmups)
            per_place = GaugeMetricFamily(
                "labhub_spawn_queue_seconds_per_place", "The line's estimate: seconds per place in line")
            per_place.add_metric([], admission.seconds_per_place())
            slots = GaugeMetricFamily(
                "labhub_spawn_concurrency", "Container starts the line lets run at once (the admin's number, or measured)")
            slots.add_metric([], admission.concurrency)
            families += [per_place, slots]
            if (cpu := admission.start_cpu_s) is not None:
                start_cpu = GaugeMetricFamily(
                    "labhub_spawn_start_cpu_seconds",
                    "Container CPU-seconds of a recent start until its server answered (median)")
                start_cpu.add_metric([], cpu)
                families.append(start_cpu)
        return families

    def describe(self):
        return self.collect()


_collector: AdmissionCollector | None = None


def register_admission_metrics(registry=REGISTRY) -> None:
    """Once per process (the hub may load its config more than once in tests)."""
    global _collector
    if _collector is None:
        _collector = AdmissionCollector()
        registry.register(_collector)


def prometheus_token_path(state_dir: Path) -> Path:
    return Path(state_dir) / TOKEN_FILE


def configure_hub_metrics(c, settings) -> None:
    """Admission metrics on /hub/metrics, and a read:metrics-only token for Prometheus."""
    register_admission_metrics()
    token = ensure_secret(ensure_state_dir(settings.state_dir), TOKEN_FILE)
    service = {"name": PROMETHEUS_SERVICE, "api_token": token}
    role = {"name": "prometheus-scraper", "description": "Read /hub/metrics, nothing else",
            "scopes": ["read:metrics"], "services": [PROMETHEUS_SERVICE]}
    c.JupyterHub.services = [*c.JupyterHub.services, service] if "services" in c.JupyterHub else [service]
    c.JupyterHub.load_roles = [*c.JupyterHub.load_roles, role] if "load_roles" in c.JupyterHub else [role]
