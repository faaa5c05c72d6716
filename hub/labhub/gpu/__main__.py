"""`python -m labhub.gpu`: the GPU admin page and API at /services/gpu/ (managed service)."""

from __future__ import annotations

import asyncio
import os

import docker

from ..service.cookies import cookie_secret
from ..service.hubclient import HubClient
from ..service.logs import setup_logging
from ..settings import load_settings
from .hubside import open_store
from .inventory import load_inventory
from .service import GpuService
from .web import make_app


async def main() -> None:
    settings = load_settings()
    log = setup_logging("gpu", settings.hub.log_level)
    inventory = load_inventory(settings.gpu)
    store = open_store(settings, inventory)
    service = GpuService(settings, inventory, store, HubClient.from_env(), docker.from_env())
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/gpu/")
    make_app(service, prefix, cookie_secret(settings.state_dir, "gpu")).listen(settings.gpu.service_port,
                                                                             address="127.0.0.1")
    log.info("GPU admin at %s (%s inventory, %d units)", prefix, inventory.source, len(inventory.units))
    await service.reconcile_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # the hub stops its services with a signal
        pass
