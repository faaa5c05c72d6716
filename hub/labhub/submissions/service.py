"""The service's parts wired from the settings: storage, grading queue, home writer, the hub roster; and
the clean-up of its helper containers when it stops."""

from __future__ import annotations

import asyncio
import logging
import os
from urllib.parse import quote

import docker
import docker.errors

from ..backend import backend_for
from ..backend.hardening import remove_helpers
from ..profiles import load_profiles
from ..service.hubclient import HubClient, HubError
from ..settings import Settings
from .blobs import BlobStore
from .core import Submissions
from .grading import GradingQueue
from .home import HomeWriter
from .locations import db_url, files_dir
from .problems import Problem
from .roles import students_group
from .sandbox import Sandbox
from .store import Store

log = logging.getLogger("labhub.submissions")


class HubRoster:
    """Members of a course's students group, from the hub API (the service's read:groups scope)."""

    def __init__(self, hub: HubClient):
        self.hub = hub

    async def __call__(self, course_id: str) -> list[str]:
        group = students_group(course_id)
        try:
            model = await self.hub.get_or_none(f"/groups/{quote(group, safe='')}")
        except HubError as e:
            raise Problem(502, f"the hub did not list the members of {group} ({e.code})") from None
        return list((model or {}).get("users", []))


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
        roster = HubRoster(HubClient.from_env())
    return Submissions(sub, store, blobs, profiles, queue, home, roster)


def _homes_bounded(settings, profiles) -> bool:
    """Bounded homes are made by the spawner (labhub.homes): a fetch must not make a plain, unbounded one."""
    return settings.homes.size is not None or any(p.home_size is not None for p in profiles.profiles)


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
