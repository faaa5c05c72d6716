"""labhub's monitoring: a Prometheus exporter run as the hub's managed service "metrics".

Per user and profile: container CPU and memory, GPU use and leases, stops by reason, free space for the
home volumes, submissions; plus the admission line on the hub's own /hub/metrics (see metrics.hubside).
Metric names, labels and alerts: docs/monitoring.md.
"""

from __future__ import annotations

from ..services import ManagedService

SERVICE_NAME = "metrics"


def managed_service(settings) -> ManagedService | None:
    metrics = settings.metrics
    if not metrics.enabled:
        return None
    return ManagedService(
        name=SERVICE_NAME,
        module="labhub.metrics",
        # The admin page reads the admission line from the hub's /hub/metrics.
        scopes=["read:metrics"],
        port=metrics.port,
        display=True,
    )
