"""The GPU service's work: the overview admins see, revoking a lease, setting a quota, and reclaiming,
every gpu.reconcile_interval, the leases whose container is gone or stopped."""

from __future__ import annotations

import asyncio
import logging

from tornado import web

from ..backend import backend_for
from ..service.hubclient import HubClient
from ..settings import Settings
from .inventory import Inventory
from .report import overview
from .revoke import revoke
from .store import LeaseStore

log = logging.getLogger("labhub.gpu")


class GpuService:
    def __init__(self, settings: Settings, inventory: Inventory, store: LeaseStore, hub: HubClient, client):
        self.settings, self.inventory, self.store, self.hub, self.docker = settings, inventory, store, hub, client

    def overview(self) -> dict:
        return overview(self.store, self.inventory, self.settings.gpu)

    async def revoke(self, user: str, server: str) -> dict:
        lease = self.store.lease_for(user, server)
        if lease is None:
            raise web.HTTPError(404, f"{user} holds no GPU lease" + (f" for server {server!r}" if server else ""))
        outcome = await revoke(self.store, lease, self.hub, self.docker)
        return {"revoked": lease.id, "user": user, "server": server, "units": list(lease.units), "outcome": outcome}

    def set_quota(self, kind: str, name: str, hours) -> dict:
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours < 0):
            raise web.HTTPError(400, 'hours must be a number of GPU-hours (0 or more), or null to remove the quota')
        self.store.set_quota(kind, name, None if hours is None else float(hours))
        return {"kind": kind, "name": name, "hours": hours}

    async def reconcile_forever(self) -> None:
        grace = self.settings.spawner.start_timeout + 60
        while True:
            await asyncio.sleep(self.settings.gpu.reconcile_interval)
            try:
                states = await asyncio.to_thread(backend_for(self.settings, self.docker).server_states)
                for lease in await asyncio.to_thread(self.store.reconcile, states, grace):
                    log.warning("GPU lease %d of %s reclaimed: container %s is gone or stopped", lease.id,
                                lease.user, lease.container)
            except Exception:
                log.exception("reconciling GPU leases failed; trying again next round")
