"""The service process: storage, grading queue, home writer and the tornado app, wired from the settings."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal

import docker
import docker.errors
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer

from ..backend import backend_for
from ..profiles import load_profiles
from ..settings import Settings, load_settings
from ..state import ensure_secret
from ..tls import service_cookie_settings
from . import LISTEN_IP_ENV, SERVICE_NAME
from .api import api_routes
from .blobs import BlobStore
from .core import Submissions
from .grading import GradingQueue
from ..backend.hardening import remove_helpers
from .home import HomeWriter
from .locations import db_url, files_dir
from .pages import page_routes
from .problems import Problem
from .roles import students_group
from .sandbox import Sandbox
from .storage import Store

log = logging.getLogger("labhub.submissions")


class HubRoster:
    """Members of a course's students group, from the hub API (the service's read:groups scope)."""

    def __init__(self, api_url: str, token: str):
        self.api_url, self.token = api_url.rstrip("/"), token

    async def __call__(self, course_id: str) -> list[str]:
        response = await AsyncHTTPClient().fetch(
            f"{self.api_url}/groups/{students_group(course_id)}",
            headers={"Authorization": f"token {self.token}"}, raise_error=False, request_timeout=30)
        if response.code == 404:
            return []
        if response.code != 200:
            raise Problem(502, f"the hub did not list the members of {students_group(course_id)} ({response.code})")
        return list(json.loads(response.body).get("users", []))


def build(settings: Settings, client: docker.DockerClient | None = None) -> Submissions:
    sub = settings.submissions
    folder = files_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    store = Store(db_url(settings))
    blobs = BlobStore(folder / "blobs")
    profiles = load_profiles(settings.profiles_dir)
    client = client or docker.from_env()
    owner = settings.spawner.container_prefix
    sandbox = Sandbox(folder / "runs", owner, client)

    def image_of(slug: str) -> str | None:
        profile = profiles.get(slug)
        return profile.image if profile else None

    queue = GradingQueue(store, blobs, sandbox, sub.grading, image_of)
    home = HomeWriter(folder / "stage", settings.spawner.home_volume, settings.spawner.home_dir, owner, client,
                      create_missing=backend_for(settings, client).local_servers and not _homes_bounded(settings, profiles),
                      settings=sub.fetch)
    roster = None
    if os.environ.get("JUPYTERHUB_API_URL") and os.environ.get("JUPYTERHUB_API_TOKEN"):
        roster = HubRoster(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    return Submissions(sub, store, blobs, profiles, queue, home, roster)


def _homes_bounded(settings, profiles) -> bool:
    """Bounded homes are made by the spawner (labhub.homes): a fetch must not make a plain, unbounded one."""
    return settings.homes.size is not None or any(p.home_size is not None for p in profiles.profiles)


def make_app(lab: Submissions, prefix: str, hub_prefix: str, cookie_secret: str) -> web.Application:
    prefix = prefix.rstrip("/") + "/"
    routes = [
        *api_routes(prefix),
        *page_routes(prefix),
        (f"{prefix}oauth_callback", HubOAuthCallbackHandler),
    ]
    return web.Application(routes, lab=lab, prefix=prefix, hub_prefix=hub_prefix, cookie_secret=cookie_secret,
                           **service_cookie_settings())  # its _xsrf cookie Secure on an https lab


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s submissions] %(message)s")
    settings = load_settings()
    sub = settings.submissions
    # Group changes reach the service within a minute (the hub's answer about a token is cached).
    HubOAuth.instance(cache_max_age=60)
    lab = build(settings)
    lab.queue.start()
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    hub_prefix = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/"
    secret = ensure_secret(files_dir(settings), "cookie-secret")
    app = make_app(lab, prefix, hub_prefix, secret)
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


# Within the hub's 10 s between its SIGINT and SIGTERM to a service.
STOP_CLEANUP_TIMEOUT = 8


async def remove_helpers_on_stop(client: docker.DockerClient, owner: str) -> None:
    """Fetch helpers and grading containers do not outlive the service: a grading cut short is run again
    at the next start (it is still "running" in the database)."""
    try:
        removed = await asyncio.wait_for(asyncio.to_thread(remove_helpers, client, owner), STOP_CLEANUP_TIMEOUT)
    except (TimeoutError, docker.errors.DockerException) as e:
        log.warning("could not remove the helper containers on stop (%s); the next start removes them", e)
        return
    if removed:
        log.info("removed %d helper container(s) on stop", removed)
