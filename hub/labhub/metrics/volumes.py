"""Source "volumes": free space on the filesystem that holds the users' home volumes.

All home volumes of a Docker host live on one filesystem (<Docker root>/volumes); when it fills up,
every user's saves fail at once, so its free space is what an alert watches.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)


class VolumesSource:
    name = "volumes"

    def __init__(self, client, path: Path | None = None, fallback: Path | None = None):
        self.client = client
        self._path = path
        # The hub in a container (docker compose) does not see the engine's folders; its state folder,
        # itself a Docker volume there, lies on the same filesystem.
        self.fallback = fallback

    @property
    def path(self) -> Path:
        if self._path is None:  # asked once: the engine's root folder does not move while it runs
            volumes = Path(self.client.info()["DockerRootDir"]) / "volumes"
            if not volumes.is_dir() and self.fallback is not None:
                log.info("metrics: %s is not visible here; measuring %s instead (metrics.volumes_path)",
                         volumes, self.fallback)
                volumes = self.fallback
            self._path = volumes
        return self._path

    def read(self) -> tuple[int, int]:
        """(size, available) in bytes; available counts what unprivileged writers may still use."""
        st = os.statvfs(self.path)
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    @staticmethod
    def _families() -> dict:
        return {
            "size": GaugeMetricFamily(
                "labhub_home_volumes_filesystem_size_bytes", "Size of the filesystem holding the home volumes",
                labels=["path"]),
            "avail": GaugeMetricFamily(
                "labhub_home_volumes_filesystem_avail_bytes",
                "Free space left for users on the filesystem holding the home volumes", labels=["path"]),
        }

    def describe(self):
        return list(self._families().values())

    def collect(self):
        families = self._families()
        size, avail = self.read()
        families["size"].add_metric([str(self.path)], size)
        families["avail"].add_metric([str(self.path)], avail)
        return list(families.values())
