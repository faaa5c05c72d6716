"""The hub's side of GPU leasing, used by LabSpawner: wait in the GPU queue, then hand the container
its devices (device requests by UUID where an NVIDIA runtime exists), env and labels."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import docker.errors
from docker.types import DeviceRequest
from tornado import web

from ..labels import GPU as LABEL_GPU
from ..labels import GPU_LEASE as LABEL_GPU_LEASE
from ..labels import GPU_MODE as LABEL_GPU_MODE
from ..labels import GPU_SOURCE as LABEL_GPU_SOURCE
from ..units import format_duration
from .model import Inventory
from .policy import Demand, can_ever_fit
from .settings import GpuSettings
from .store import Lease, LeaseStore, Queued, Refused

log = logging.getLogger("labhub.gpu")

# Container labels: which units a container holds under which lease (read by usage.py and the
# metrics exporter).

MIB = 1024**2


@dataclass
class GpuWait:
    """What a waiting spawn shows on its progress page."""

    position: int = 0
    waiting: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


def nvidia_runtime_present(client) -> bool:
    try:
        runtimes = client.info().get("Runtimes") or {}
    except docker.errors.DockerException:
        return False
    return "nvidia" in runtimes


class GpuBroker:
    # Where the GPUs are, as the messages of unavailable_reason say it (a swarm's broker: its nodes).
    gpus_are_on = "this server has"

    def __init__(self, settings: GpuSettings, inventory: Inventory, store: LeaseStore, device_requests: bool,
                 poll_s: float = 1.0):
        self.settings = settings
        self.inventory = inventory
        self.store = store
        self.device_requests = device_requests
        self.poll_s = poll_s
        self._changed: asyncio.Event | None = None

    # traitlets copies config values for every spawner; all spawners must share this one broker.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    # --- before the spawn -----------------------------------------------------------------------

    def unavailable_reason(self, profile) -> str | None:
        units = self.inventory.uuids
        if not units:  # the admin finds why in the hub's log and `labhub gpu leases`
            return f"Not available: {self.gpus_are_on} no GPUs. Use the CPU runtime."
        demand = Demand.of(profile.gpu)
        if not can_ever_fit(demand, units):
            return (f"Not available: it needs {demand.describe()}, {self.gpus_are_on} {len(units)} GPU unit"
                    f"{'s' if len(units) != 1 else ''}.")
        return None

    def check_quota(self, user: str, groups, profile) -> None:
        """A 429 naming the hours used and the reset time when the weekly GPU quota is used up."""
        refusal = self.store.check_quota(user, sorted(groups), profile.weekly_gpu_hours)
        if refusal is not None:
            raise web.HTTPError(429, refusal.message)

    # --- waiting for a lease --------------------------------------------------------------------

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    async def _changed_or_timeout(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=self.poll_s)
        except asyncio.TimeoutError:
            pass

    def memory_limit(self, profile, unit_memory: int) -> int | None:
        if profile.gpu.mode != "shared":
            return None
        return profile.gpu.memory_limit or unit_memory // profile.gpu.users_per_gpu

    async def acquire(self, *, user: str, server: str, groups, profile, container: str, wait: GpuWait) -> Lease:
        """A lease for this server, after waiting in the GPU queue if every unit is taken.

        A spawn cancelled at any point (also while its request is being written) leaves no place
        in the queue and no lease behind.
        """
        demand = Demand.of(profile.gpu)
        smallest = min(u.memory for u in self.inventory.units)
        request = asyncio.ensure_future(asyncio.to_thread(
            self.store.request, user, server, profile.slug, demand, container=container, groups=sorted(groups),
            profile_hours=profile.weekly_gpu_hours, memory_limit=self.memory_limit(profile, smallest)))
        outcome = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.queue_timeout
        try:
            outcome = await asyncio.shield(request)
            if isinstance(outcome, Refused):
                raise web.HTTPError(429 if outcome.quota else 503, outcome.message)
            while isinstance(outcome, Queued):
                wait.position, wait.waiting = outcome.position, outcome.waiting
                if loop.time() > deadline:
                    raise web.HTTPError(
                        503, f"No GPU became free within {format_duration(self.settings.queue_timeout)}. "
                        "Please try again later, or use the CPU runtime.")
                await self._changed_or_timeout()
                waiter_id = outcome.waiter_id
                status = await asyncio.to_thread(self.store.status, waiter_id)
                if status is None:
                    raise web.HTTPError(503, "Your place in the GPU queue was dropped (the hub restarted or an "
                                             "admin cleared the queue). Please start your server again.")
                outcome = status
        except BaseException:
            if outcome is None:
                try:
                    outcome = await request  # the write may still land: wait for it, then undo it
                except Exception:
                    outcome = None
            await asyncio.shield(asyncio.to_thread(self._undo, outcome))
            raise
        finally:
            wait.done.set()
        log.info("%s/%s holds GPU lease %d on %s after %.0f s in the queue", user, server or "(default)",
                 outcome.id, ",".join(outcome.units), outcome.waited_s)
        return outcome

    def _undo(self, outcome) -> None:
        if isinstance(outcome, Queued):
            self.store.cancel(outcome.waiter_id)
        elif isinstance(outcome, Lease):
            self.store.release(outcome.id, reason="spawn cancelled")

    def activate(self, lease: Lease) -> None:
        self.store.activate(lease.id)

    def release(self, *, lease_id: int | None, user: str, server: str, reason: str) -> None:
        """Give the lease back (idempotent) and wake the spawns waiting for a GPU."""
        if lease_id is not None:
            released = self.store.release(lease_id, reason=reason)
        else:
            released = self.store.release(user=user, server=server, reason=reason)
        if released is not None:
            self._notify()

    def lease_of(self, lease_id: int) -> Lease | None:
        return next((lease for lease in self.store.leases() if lease.id == lease_id), None)

    # --- the container --------------------------------------------------------------------------

    def env(self, lease: Lease | None) -> dict[str, str]:
        if lease is None:
            # No GPU, even where nvidia is Docker's default runtime.
            return {"NVIDIA_VISIBLE_DEVICES": "void"}
        uuids = ",".join(lease.units)
        env = {"NVIDIA_VISIBLE_DEVICES": uuids, "LABHUB_GPU_UUIDS": uuids, "LABHUB_GPU_MODE": lease.mode}
        if lease.mode == "shared":
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
            if lease.memory_limit:
                env["LABHUB_GPU_MEMORY_LIMIT_MB"] = str(lease.memory_limit // MIB)
        return env

    def labels(self, lease: Lease | None) -> dict[str, str]:
        if lease is None:
            return {}
        return {LABEL_GPU: ",".join(lease.units), LABEL_GPU_LEASE: str(lease.id), LABEL_GPU_MODE: lease.mode,
                LABEL_GPU_SOURCE: self.inventory.source}

    def host_config(self, lease: Lease | None) -> dict:
        if lease is None or not self.device_requests:
            return {}
        return {"device_requests": [DeviceRequest(device_ids=list(lease.units), capabilities=[["gpu"]])]}


def use_device_requests(settings: GpuSettings, inventory: Inventory, client) -> bool:
    if settings.device_requests == "never" or inventory.source != "nvml":
        return False
    return settings.device_requests == "always" or nvidia_runtime_present(client)
