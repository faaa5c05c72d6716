"""`python -m labhub.sessions`: the sessions service, as started by the hub (managed service)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets

from ..profiles import load_profiles
from ..settings import load_settings
from .records import SessionsDB
from .service import SessionsService
from .web import make_app


def _gpu_utilisation():
    try:
        from ..gpu.usage import gpu_utilisation
    except ImportError:
        return None
    return gpu_utilisation


def _gpu_info(settings):
    if settings.gpu.inventory == "none":
        return None
    from .gpuinfo import gpu_info_from

    return gpu_info_from(settings)


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s sessions] %(message)s")
    settings = load_settings()
    service_class, extra = SessionsService, {"gpu_utilisation": _gpu_utilisation(), "gpu_info": _gpu_info(settings)}
    if settings.spawner.kind == "swarm":  # servers are swarm services on many nodes
        from ..swarm.sessions import SwarmSessionsService

        service_class, extra = SwarmSessionsService, {}
    service = service_class(
        settings.sessions,
        load_profiles(settings.profiles_dir),
        SessionsDB(settings.state_dir),
        hub_api=os.environ["JUPYTERHUB_API_URL"],
        token=os.environ["JUPYTERHUB_API_TOKEN"],
        **extra,
    )
    app = make_app(service, os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/sessions/"), secrets.token_bytes(32))
    app.listen(settings.sessions.port, address="127.0.0.1")
    await service.run()


if __name__ == "__main__":
    asyncio.run(main())
