"""Source "gpu": GPU units and who holds them, the GPU queue, GPU-hours used this week, and GPU
utilisation and memory per user.

Leases, queue and hours come from labhub.gpu's lease store. Use per user needs the processes behind
the GPUs: NVML lists the host PIDs on each GPU, and /proc/<pid>/cgroup names the container each runs
in, which carries the user's labels. On a simulated inventory there are no such processes: a
holder's container CPU use stands in for utilisation (a busy training loop reads as a busy GPU, as in
the sessions service) and its memory, capped at its share of the unit, for GPU memory.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from ..gpu.broker import LABEL_GPU
from ..gpu.hubside import open_store
from ..gpu.inventory import Inventory, load_inventory
from ..labels import PROFILE as LABEL_PROFILE
from ..labels import SERVER as LABEL_SERVER
from ..labels import USER as LABEL_USER
from .cgroups import CgroupReader

log = logging.getLogger(__name__)

USER_LABELS = ["user", "server", "profile"]
# NVML keeps per-process utilisation samples for a while; look back this far.
SAMPLE_WINDOW_S = 20.0
_CPU_WINDOW_S = 2.0
_CONTAINER_ID = re.compile(r"(?:docker[-/])([0-9a-f]{64})")


@dataclass
class UserGpu:
    """One holder's use of one unit."""

    user: str
    server: str
    profile: str
    gpu: str  # unit index, "0" or "0:1" (MIG)
    utilization: float | None = None  # 0..1
    memory_bytes: int = 0


@dataclass
class GpuReading:
    units_total: int
    units_free: float
    unit_load: dict[str, float]  # index -> share leased (0..1)
    leases: list = field(default_factory=list)  # labhub.gpu.store.Lease
    queue_length: int = 0
    queue_oldest_wait_s: float = 0.0
    hours_used: dict[str, float] = field(default_factory=dict)  # user -> GPU-hours this week
    group_hours_used: dict[str, float] = field(default_factory=dict)
    per_user: list[UserGpu] = field(default_factory=list)
    device_utilization: dict[str, float] = field(default_factory=dict)  # index -> 0..1
    device_memory_used: dict[str, int] = field(default_factory=dict)
    device_memory_total: dict[str, int] = field(default_factory=dict)


class GpuSource:
    name = "gpu"

    def __init__(self, settings, client, inventory: Inventory, cgroups: CgroupReader, proc: Path = Path("/proc")):
        self.client = client
        self.inventory = inventory
        self.store = open_store(settings, inventory)
        self.cgroups = cgroups
        self.proc = proc
        self._index = {u.uuid: u.index for u in inventory.units}
        self._memory = {u.uuid: u.memory for u in inventory.units}
        # Simulated: container id -> (time, CPU seconds, busy ratio measured then).
        self._cpu: dict[str, tuple[float, float, float | None]] = {}
        self._lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------------------

    def _gpu_containers(self) -> dict[str, dict]:
        """Running containers that hold GPU units, by id, with their labels."""
        found = self.client.api.containers(filters={"label": LABEL_GPU})
        return {c["Id"]: {**(c.get("Labels") or {}), "name": (c.get("Names") or ["/"])[0].lstrip("/")} for c in found}

    def read(self) -> GpuReading:
        store = self.store
        now = store.clock()
        load = store.load()
        leases = store.leases()
        queue = store.queue()
        since = store.policy.rules.week_start(now)
        records = store.usage(since)
        hours: dict[str, float] = defaultdict(float)
        group_hours: dict[str, float] = defaultdict(float)
        for r in records:
            h = r.hours(since, now)
            hours[r.user] += h
            for g in r.groups:
                group_hours[g] += h
        for lease in leases:  # a holder shows up even before an hour has accumulated
            hours.setdefault(lease.user, 0.0)
        reading = GpuReading(
            units_total=len(self.inventory.units),
            units_free=sum(max(0.0, 1.0 - load.get(u.uuid, 0.0)) for u in self.inventory.units),
            unit_load={u.index: load.get(u.uuid, 0.0) for u in self.inventory.units},
            leases=leases,
            queue_length=len(queue),
            queue_oldest_wait_s=max((now - e.enqueued_at for e in queue), default=0.0),
            hours_used=dict(hours),
            group_hours_used=dict(group_hours),
        )
        if self.inventory.source == "nvml":
            self._read_nvml(reading)
        elif self.inventory.source == "simulated":
            self._read_simulated(reading)
        return reading

    def _read_simulated(self, reading: GpuReading) -> None:
        now = time.monotonic()
        seen = set()
        share_of = {lease.container: lease.per_unit for lease in reading.leases}
        for cid, labels in self._gpu_containers().items():
            units = [u for u in labels.get(LABEL_GPU, "").split(",") if u in self._index]
            usage = self.cgroups.usage(cid) if self.cgroups.available else None
            if not units or usage is None:
                continue
            seen.add(cid)
            with self._lock:  # CPU use over at least _CPU_WINDOW_S, whoever reads (Prometheus, the page)
                at, cpu, busy = self._cpu.get(cid, (now, usage.cpu_seconds, None))
                if now - at >= _CPU_WINDOW_S:
                    busy = min(1.0, max(0.0, usage.cpu_seconds - cpu) / (now - at))
                    at, cpu = now, usage.cpu_seconds
                self._cpu[cid] = (at, cpu, busy)
            # The container's memory, spread over its units and capped at its share of each.
            spread = usage.memory_working_set // len(units)
            for unit in units:
                cap = int(self._memory[unit] * share_of.get(labels["name"], 1.0))
                reading.per_user.append(UserGpu(
                    labels.get(LABEL_USER, ""), labels.get(LABEL_SERVER, ""), labels.get(LABEL_PROFILE, ""),
                    self._index[unit], busy, min(spread, cap)))
        with self._lock:
            for cid in set(self._cpu) - seen:
                del self._cpu[cid]
        for unit in self.inventory.units:
            users = [u for u in reading.per_user if u.gpu == unit.index]
            reading.device_utilization[unit.index] = min(1.0, sum(u.utilization or 0.0 for u in users))
            reading.device_memory_used[unit.index] = sum(u.memory_bytes for u in users)
            reading.device_memory_total[unit.index] = unit.memory

    def _container_of(self, pid: int) -> str | None:
        try:
            text = (self.proc / str(pid) / "cgroup").read_text()
        except OSError:
            return None
        match = _CONTAINER_ID.search(text)
        return match.group(1) if match else None

    def _read_nvml(self, reading: GpuReading) -> None:
        import pynvml

        containers = self._gpu_containers()
        pynvml.nvmlInit()
        try:
            since = int((time.time() - SAMPLE_WINDOW_S) * 1_000_000)
            for unit in self.inventory.units:
                handle = pynvml.nvmlDeviceGetHandleByUUID(unit.uuid)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                reading.device_memory_used[unit.index] = memory.used
                reading.device_memory_total[unit.index] = memory.total
                try:
                    reading.device_utilization[unit.index] = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100
                except pynvml.NVMLError:  # MIG devices report no utilisation of their own
                    pass
                per_container: dict[str, UserGpu] = {}

                def holder(pid: int) -> UserGpu | None:
                    cid = self._container_of(pid)
                    if cid is None or cid not in containers:
                        return None  # not a user container (or not visible from here)
                    if cid not in per_container:
                        labels = containers[cid]
                        per_container[cid] = UserGpu(labels.get(LABEL_USER, ""), labels.get(LABEL_SERVER, ""),
                                                     labels.get(LABEL_PROFILE, ""), unit.index, 0.0)
                    return per_container[cid]

                for proc in _running_processes(pynvml, handle):
                    found = holder(proc.pid)
                    if found is not None and proc.usedGpuMemory:
                        found.memory_bytes += proc.usedGpuMemory
                try:
                    samples = pynvml.nvmlDeviceGetProcessUtilization(handle, since)
                except pynvml.NVMLError:  # no samples in the window, or not supported (MIG)
                    samples = []
                highest: dict[int, int] = {}
                for s in samples:  # several samples per process: its highest reading
                    highest[s.pid] = max(highest.get(s.pid, 0), s.smUtil)
                for pid, util in highest.items():
                    found = holder(pid)
                    if found is not None:
                        found.utilization = min(1.0, (found.utilization or 0.0) + util / 100)
                reading.per_user.extend(per_container.values())
        finally:
            pynvml.nvmlShutdown()

    # --- exporting --------------------------------------------------------------------------------

    @staticmethod
    def _families() -> dict:
        g = GaugeMetricFamily
        return {
            "total": g("labhub_gpu_units_total", "GPU units that can be leased (whole GPUs or MIG devices)"),
            "free": g("labhub_gpu_units_free", "GPU units not leased (a half-leased shared GPU counts 0.5)"),
            "load": g("labhub_gpu_unit_leased_ratio", "Share of each GPU unit that is leased (0..1)", labels=["gpu"]),
            "lease": g("labhub_gpu_lease_units", "GPU units held by the user's server (0.5: a shared slot on one GPU)",
                       labels=USER_LABELS),
            "queue": g("labhub_gpu_queue_length", "Spawns waiting in the GPU queue"),
            "wait": g("labhub_gpu_queue_oldest_wait_seconds", "How long the first request in the GPU queue has waited"),
            "hours": g("labhub_gpu_hours_used", "GPU-hours the user used in this quota week", labels=["user"]),
            "group_hours": g("labhub_gpu_group_hours_used", "GPU-hours a hub group used in this quota week",
                             labels=["group"]),
            "user_util": g("labhub_gpu_user_utilization_ratio",
                           "GPU utilisation by the user's processes on the unit (0..1)", labels=["user", "gpu"]),
            "user_mem": g("labhub_gpu_user_memory_bytes", "GPU memory held by the user's processes on the unit",
                          labels=["user", "gpu"]),
            "util": g("labhub_gpu_utilization_ratio", "Utilisation of the GPU unit (0..1)", labels=["gpu"]),
            "mem_used": g("labhub_gpu_memory_used_bytes", "Memory in use on the GPU unit", labels=["gpu"]),
            "mem_total": g("labhub_gpu_memory_total_bytes", "Memory of the GPU unit", labels=["gpu"]),
        }

    def describe(self):
        return list(self._families().values())

    def collect(self):
        f = self._families()
        r = self.read()
        f["total"].add_metric([], r.units_total)
        f["free"].add_metric([], r.units_free)
        for gpu, load in sorted(r.unit_load.items()):
            f["load"].add_metric([gpu], load)
        for lease in r.leases:
            f["lease"].add_metric([lease.user, lease.server, lease.profile], lease.rate)
        f["queue"].add_metric([], r.queue_length)
        f["wait"].add_metric([], r.queue_oldest_wait_s)
        for user, hours in sorted(r.hours_used.items()):
            f["hours"].add_metric([user], hours)
        for group, hours in sorted(r.group_hours_used.items()):
            f["group_hours"].add_metric([group], hours)
        per_user: dict[tuple[str, str], list[UserGpu]] = defaultdict(list)
        for u in r.per_user:
            per_user[(u.user, u.gpu)].append(u)
        for (user, gpu), uses in sorted(per_user.items()):
            utils = [u.utilization for u in uses if u.utilization is not None]
            if utils:
                f["user_util"].add_metric([user, gpu], min(1.0, sum(utils)))
            f["user_mem"].add_metric([user, gpu], sum(u.memory_bytes for u in uses))
        for gpu, util in sorted(r.device_utilization.items()):
            f["util"].add_metric([gpu], util)
        for gpu, used in sorted(r.device_memory_used.items()):
            f["mem_used"].add_metric([gpu], used)
        for gpu, total in sorted(r.device_memory_total.items()):
            f["mem_total"].add_metric([gpu], total)
        return list(f.values())

    def overview(self) -> dict:
        """For the admin page: units, leases with their holders' use, the queue."""
        r = self.read()
        use: dict[tuple[str, str], list[UserGpu]] = defaultdict(list)
        for u in r.per_user:
            use[(u.user, u.server)].append(u)
        leases = []
        for lease in r.leases:
            mine = use.get((lease.user, lease.server), [])
            utils = [u.utilization for u in mine if u.utilization is not None]
            leases.append({
                "user": lease.user, "server": lease.server, "profile": lease.profile, "state": lease.state,
                "gpus": [self._index.get(unit, unit) for unit in lease.units], "units": round(lease.rate, 3),
                "utilization": (sum(utils) / len(utils)) if utils else None,
                "memory_bytes": sum(u.memory_bytes for u in mine),
                "hours_used": round(r.hours_used.get(lease.user, 0.0), 2),
                "held_s": round(time.time() - lease.granted_at),
            })
        return {"source": self.inventory.source, "total_units": r.units_total, "free_units": round(r.units_free, 2),
                "queue_length": r.queue_length, "queue_oldest_wait_s": round(r.queue_oldest_wait_s),
                "leases": leases}


def _running_processes(pynvml, handle) -> list:
    processes = []
    for query in (pynvml.nvmlDeviceGetComputeRunningProcesses, pynvml.nvmlDeviceGetGraphicsRunningProcesses):
        try:
            processes.extend(query(handle))
        except pynvml.NVMLError:
            pass
    return processes


def gpu_source(settings, client) -> GpuSource | None:
    """The GPU source, unless this lab has no GPU units at all (then no labhub_gpu_* series)."""
    inventory = load_inventory(settings.gpu)
    if not inventory.units:
        log.info("metrics: no GPU source (%s)", inventory.detail or inventory.source)
        return None
    return GpuSource(settings, client, inventory, CgroupReader(settings.path(settings.metrics.cgroup_root)))
