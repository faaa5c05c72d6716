"""`python -m labhub.sessions`: the sessions service, as started by the hub (managed service)."""

from __future__ import annotations

import asyncio
import os

from ..backend import backend_for
from ..profiles import load_profiles
from ..service.cookies import cookie_secret
from ..service.hubclient import HubClient
from ..service.logs import setup_logging
from ..settings import load_settings
from .store import SessionsDB
from .service import SessionsService
from .web import make_app


def _gpu_utilisation(backend):
    if not backend.local_servers:  # the GPUs are on other nodes: no reading here (docs/scale-out.md)
        return None
    try:
        from ..gpu.usage import gpu_utilisation
    except ImportError:
        return None
    return lambda server: gpu_utilisation(server.handle)


def _gpu_info(settings, backend):
    # Only shown in the status file, which needs an exec into the server.
    if settings.gpu.inventory == "none" or not backend.can_exec:
        return None
    from .gpuinfo import gpu_info_from

    return gpu_info_from(settings)


async def main() -> None:
    settings = load_settings()
    setup_logging("sessions", settings.hub.log_level)
    backend = backend_for(settings)
    service = SessionsService(
        settings.sessions,
        load_profiles(settings.profiles_dir),
        SessionsDB(settings.state_dir),
        HubClient.from_env(),
        backend=backend,
        gpu_utilisation=_gpu_utilisation(backend),
        gpu_info=_gpu_info(settings, backend),
    )
    app = make_app(service, os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/sessions/"),
                   cookie_secret(settings.state_dir, "sessions"))
    app.listen(settings.sessions.port, address="127.0.0.1")
    await service.run()


if __name__ == "__main__":
    asyncio.run(main())
