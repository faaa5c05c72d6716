"""Source "volumes": free space on the filesystem that holds the users' home volumes, and on each
home that has a filesystem of its own.

Plain home volumes of a Docker host live on one filesystem (<Docker root>/volumes); when it fills up,
every user's saves fail at once, so its free space is what an alert watches. An admin who bounds
homes (a volume driver with a size: tmpfs, a loop-mounted file, a quota'd share) gives each its own
filesystem; while its server runs, the home's own free space is exported, so one user's full home is
reported by name.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from ..labels import USER as LABEL_USER

log = logging.getLogger(__name__)


class VolumesSource:
    name = "volumes"

    def __init__(self, client, path: Path | None = None, fallback: Path | None = None,
                 prefix: str = "labhub", home_dir: str = "/home/jovyan"):
        self.client = client
        self.prefix = prefix
        self.home_dir = home_dir
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

    def homes(self) -> list[tuple[str, int, int]]:
        """(user, size, available) for running servers whose home is a filesystem of its own.

        The mount's host path is only visible to an exporter on the engine's host: elsewhere (the hub
        in a container) there is nothing to report per home, and the shared filesystem still is.
        """
        found = []
        for c in self.client.api.containers(filters={"label": LABEL_USER}):
            if not any(n.startswith(f"/{self.prefix}-") for n in c.get("Names") or []):
                continue
            home = next((m for m in c.get("Mounts") or []
                         if m.get("Type") == "volume" and m.get("Destination") == self.home_dir), None)
            if home is None or not os.path.ismount(home.get("Source") or "/"):
                continue
            st = os.statvfs(home["Source"])
            found.append(((c.get("Labels") or {}).get(LABEL_USER, ""), st.f_blocks * st.f_frsize,
                          st.f_bavail * st.f_frsize))
        return found

    @staticmethod
    def _families() -> dict:
        return {
            "size": GaugeMetricFamily(
                "labhub_home_volumes_filesystem_size_bytes", "Size of the filesystem holding the home volumes",
                labels=["path"]),
            "avail": GaugeMetricFamily(
                "labhub_home_volumes_filesystem_avail_bytes",
                "Free space left for users on the filesystem holding the home volumes", labels=["path"]),
            "home_size": GaugeMetricFamily(
                "labhub_home_volume_size_bytes",
                "Size of a running server's home, for homes on a filesystem of their own", labels=["user"]),
            "home_avail": GaugeMetricFamily(
                "labhub_home_volume_avail_bytes",
                "Free space in a running server's home, for homes on a filesystem of their own",
                labels=["user"]),
        }

    def describe(self):
        return list(self._families().values())

    def collect(self):
        families = self._families()
        size, avail = self.read()
        families["size"].add_metric([str(self.path)], size)
        families["avail"].add_metric([str(self.path)], avail)
        for user, size, avail in self.homes():
            families["home_size"].add_metric([user], size)
            families["home_avail"].add_metric([user], avail)
        return list(families.values())
