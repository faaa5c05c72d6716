"""GPU utilisation of one container, for the sessions service's GPU-idle rule.

  gpu_utilisation(container) -> percent (0-100), or None when it cannot be told (then the holder
  counts as busy: a server is never stopped on a guess).

NVML inventory: the container's host PIDs (docker top) are matched with NVML's per-process samples on
the units the container leases (label labhub.gpu). Simulated inventory: the container's CPU use from
the Docker stats API stands in, so a busy training loop reads as a busy GPU. A container without a
lease label holds no GPU and reads None.
"""

from __future__ import annotations

import time

import docker

from .broker import LABEL_GPU, LABEL_GPU_SOURCE

# NVML keeps per-process samples for a short while; look back this far.
SAMPLE_WINDOW_S = 10.0


def _container(container_or_name, client=None):
    if isinstance(container_or_name, str):
        return (client or docker.from_env()).containers.get(container_or_name)
    return container_or_name


def gpu_utilisation(container, client=None) -> float | None:
    container = _container(container, client)
    labels = container.labels or {}
    units = [u for u in labels.get(LABEL_GPU, "").split(",") if u]
    if not units:
        return None
    if labels.get(LABEL_GPU_SOURCE) == "simulated":
        return simulated_utilisation(container)
    return nvml_utilisation(container_pids(container), units)


def container_pids(container) -> set[int]:
    """Host PIDs of the container's processes (docker top reports them in the host's namespace)."""
    top = container.top(ps_args="-eo pid")
    titles = [t.strip().upper() for t in top.get("Titles") or []]
    column = titles.index("PID") if "PID" in titles else 0
    return {int(row[column]) for row in top.get("Processes") or [] if row[column].strip().isdigit()}


def cpu_percent(stats: dict) -> float:
    """Percent of one CPU used between Docker's two stats samples."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    if used <= 0 or system <= 0:
        return 0.0
    return used / system * cpus * 100.0


def simulated_utilisation(container) -> float:
    """The stand-in of a simulated GPU: CPU use of the container, capped at 100."""
    return min(100.0, cpu_percent(container.stats(stream=False)))


def nvml_utilisation(pids: set[int], units: list[str]) -> float | None:
    """Mean SM utilisation of these processes over the leased units (percent), from NVML samples.

    A unit that cannot report per-process samples (MIG devices) makes the answer None.
    """
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        since = int((time.time() - SAMPLE_WINDOW_S) * 1_000_000)
        total = 0.0
        for unit in units:
            handle = pynvml.nvmlDeviceGetHandleByUUID(unit)
            try:
                samples = pynvml.nvmlDeviceGetProcessUtilization(handle, since)
            except pynvml.NVMLError as e:
                if e.value == pynvml.NVML_ERROR_NOT_FOUND:  # no samples in the window: nothing ran
                    continue
                return None
            # Several samples per process in the window: take each process's highest reading.
            per_pid: dict[int, int] = {}
            for s in samples:
                if s.pid in pids:
                    per_pid[s.pid] = max(per_pid.get(s.pid, 0), s.smUtil)
            total += min(100, sum(per_pid.values()))
        return total / len(units)
    except pynvml.NVMLError:
        return None
    finally:
        pynvml.nvmlShutdown()
