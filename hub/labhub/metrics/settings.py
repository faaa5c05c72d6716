"""The `metrics:` section of the settings file: where the exporter listens and what it reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..model import Strict


class MetricsSettings(Strict):
    # The exporter runs as the hub's managed service "metrics" (its admin page is /services/metrics/).
    enabled: bool = True
    # Prometheus scrapes http://<listen_ip>:<port>/metrics; the proxy only ever forwards
    # /services/metrics/..., so the per-user figures are not reachable through the hub's public URL.
    port: int = Field(9101, ge=1, le=65535)
    # 0.0.0.0 when Prometheus runs in another container (docker compose).
    listen_ip: str = "127.0.0.1"
    # Container CPU and memory are read from the kernel's cgroup files, which is fast; where they
    # are not visible (the hub in a container without the host's /sys/fs/cgroup mounted) the
    # Docker stats API is used, at about a second per container.
    cgroup_root: Path = Path("/sys/fs/cgroup")
    # Folder on the filesystem holding the home volumes (its free space is exported).
    # Default: <Docker's root dir>/volumes, as the engine reports it; where that is not visible (the
    # hub in a container), the state folder, a Docker volume itself there.
    volumes_path: Path | None = None
