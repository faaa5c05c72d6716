"""A container's CPU time and memory straight from the kernel's cgroup files.

Docker's stats endpoint waits for a second CPU sample (about a second per container, even with
one-shot on Docker 20.10); reading the few cgroup files takes microseconds. cgroup v1 and v2 are both
read, for the cgroupfs and the systemd cgroup drivers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# cgroup v1 reports "no limit" as the largest page-aligned 63-bit value.
_UNLIMITED = 2**60


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    # What the kernel would not give back under pressure: usage minus inactive page cache, the
    # figure the OOM killer and `docker stats` go by.
    memory_working_set: int
    memory_limit: int | None  # None: no limit


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def _stat(path: Path) -> dict[str, int]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


class CgroupReader:
    """Usage of Docker containers by id, from the cgroup hierarchy mounted at `root`."""

    def __init__(self, root: Path = Path("/sys/fs/cgroup")):
        self.root = Path(root)
        self.version = 2 if (self.root / "cgroup.controllers").exists() else 1

    @property
    def available(self) -> bool:
        """Whether this hierarchy is mounted here at all (not, e.g., in a container without it)."""
        probe = self.root / ("cgroup.controllers" if self.version == 2 else "memory")
        return probe.exists()

    def _candidates(self, controller: str, container_id: str) -> list[Path]:
        base = self.root / controller if controller else self.root
        return [base / "docker" / container_id, base / "system.slice" / f"docker-{container_id}.scope"]

    def _find(self, controller: str, container_id: str) -> Path | None:
        return next((p for p in self._candidates(controller, container_id) if p.is_dir()), None)

    def usage(self, container_id: str) -> Usage | None:
        """The container's usage, or None when its cgroup is not found here (gone, or not visible)."""
        try:
            return self._usage_v2(container_id) if self.version == 2 else self._usage_v1(container_id)
        except (FileNotFoundError, ProcessLookupError):
            return None  # the container stopped between listing and reading

    def _usage_v1(self, container_id: str) -> Usage | None:
        memory, cpu = self._find("memory", container_id), self._find("cpuacct", container_id)
        if memory is None or cpu is None:
            return None
        usage = _read_int(memory / "memory.usage_in_bytes")
        inactive = _stat(memory / "memory.stat").get("total_inactive_file", 0)
        limit = _read_int(memory / "memory.limit_in_bytes")
        return Usage(
            cpu_seconds=_read_int(cpu / "cpuacct.usage") / 1e9,
            memory_working_set=max(usage - inactive, 0),
            memory_limit=limit if limit < _UNLIMITED else None,
        )

    def _usage_v2(self, container_id: str) -> Usage | None:
        group = self._find("", container_id)
        if group is None:
            return None
        usage = _read_int(group / "memory.current")
        inactive = _stat(group / "memory.stat").get("inactive_file", 0)
        limit = (group / "memory.max").read_text().strip()
        return Usage(
            cpu_seconds=_stat(group / "cpu.stat")["usage_usec"] / 1e6,
            memory_working_set=max(usage - inactive, 0),
            memory_limit=None if limit == "max" else int(limit),
        )


def usage_from_docker_stats(stats: dict) -> Usage:
    """The same figures from one answer of Docker's stats endpoint (the slow fallback)."""
    mem = stats.get("memory_stats") or {}
    details = mem.get("stats") or {}
    inactive = details.get("total_inactive_file", details.get("inactive_file", 0))
    limit = mem.get("limit")
    host_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return Usage(
        cpu_seconds=((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage", 0) / 1e9,
        memory_working_set=max(mem.get("usage", 0) - inactive, 0),
        # Without a limit Docker reports the host's memory; a limit below it is a real one.
        memory_limit=limit if limit and limit < min(host_memory, _UNLIMITED) else None,
    )
