"""Taking a GPU back from its holder, so that no container keeps running on an unleased GPU.

The proper way is to stop the server through the hub API: the spawner then gives the lease back.
Where the hub cannot do it (no token, server unknown to the hub, hub down), the container is
stopped through Docker first and the lease released after.
"""

from __future__ import annotations

import asyncio
import logging
import time

import docker
import docker.errors

from ..service.hubapi import server_path
from ..service.hubclient import HubClient, HubError
from .store import Lease, LeaseStore

log = logging.getLogger("labhub.gpu")


async def stop_server(hub: HubClient, user: str, server: str) -> int:
    """DELETE the server; the HTTP status (202/204: stopping or stopped, 400/404: not running, 599: no hub)."""
    try:
        await hub.fetch("DELETE", server_path(user, server), timeout=60)
        return 204
    except HubError as e:
        return e.code


def _stop_container(client, name: str) -> None:
    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        return
    log.warning("stopping container %s through Docker (its GPU lease is revoked)", name)
    container.stop(timeout=10)


async def revoke(store: LeaseStore, lease: Lease, hub: HubClient | None, docker_client=None,
                 wait_s: float = 120) -> str:
    """Stop the holder's server and free the lease; a line saying how it went."""
    if hub is not None:
        status = await stop_server(hub, lease.user, lease.server)
        if status in (202, 204):
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if all(existing.id != lease.id for existing in await asyncio.to_thread(store.leases)):
                    return f"stopped the server of {lease.user} through the hub; its GPU lease is free"
                await asyncio.sleep(0.5)
        log.warning("hub answered %s to stopping %s/%s; stopping its container directly", status, lease.user,
                    lease.server)
    await asyncio.to_thread(_stop_container, docker_client or docker.from_env(), lease.container)
    await asyncio.to_thread(store.release, lease.id, reason="revoked by an admin")
    return f"stopped container {lease.container} and freed the GPU lease of {lease.user}"
