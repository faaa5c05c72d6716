"""`python -m labhub.submissions`: the submissions service, as started by the hub (managed service)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from jupyterhub.services.auth import HubOAuth
from tornado.httpserver import HTTPServer

from ..service.cookies import cookie_secret
from ..service.logs import setup_logging
from ..settings import load_settings
from . import LISTEN_IP_ENV, SERVICE_NAME
from .locations import files_dir
from .service import build, remove_helpers_on_stop
from .web import make_app


async def main() -> None:
    settings = load_settings()
    log = setup_logging(SERVICE_NAME, settings.hub.log_level)
    sub = settings.submissions
    # Group changes reach the service within a minute (the hub's answer about a token is cached).
    HubOAuth.instance(cache_max_age=60)
    lab = build(settings)
    lab.queue.start()
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    hub_prefix = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/"
    # Beside the service's files, where it has always been: logged-in students stay logged in.
    app = make_app(lab, prefix, hub_prefix, cookie_secret(files_dir(settings), SERVICE_NAME, "cookie-secret"))
    # Bodies up to the largest upload any assignment may allow; each assignment checks its own limit.
    server = HTTPServer(app, max_body_size=sub.max_upload + 1024 * 1024)
    # 127.0.0.1 for the proxy, and the address user containers reach the hub at for lab-assignments.
    extra = os.environ.get(LISTEN_IP_ENV, "")
    addresses = ["0.0.0.0"] if extra == "0.0.0.0" else ["127.0.0.1", *([extra] if extra not in ("", "127.0.0.1") else [])]
    for address in addresses:
        try:
            server.listen(sub.port, address=address)
        except OSError as e:
            if address == "127.0.0.1":
                raise
            log.warning("cannot listen on %s:%d for user containers (%s); set submissions.container_url",
                        address, sub.port, e)
    log.info("submissions service at %s (port %d)", prefix, sub.port)
    stop = asyncio.Event()
    # The hub stops its services with SIGINT, then SIGTERM (its own stop: `make down`).
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    lab.queue.stop()  # first: a grading whose containers go next must not be recorded as failed
    await remove_helpers_on_stop(lab.queue.sandbox.client, settings.spawner.container_prefix)


if __name__ == "__main__":
    # The hub stops its services with SIGINT, then SIGTERM: both end the service quietly.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
