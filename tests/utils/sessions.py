"""What the sessions service wrote into a user's container (/tmp/labhub-session.json), read the way the
lab reads it, through Docker."""

from __future__ import annotations

import json
import time

import docker
import docker.errors

from tests.utils.waiting import wait_for

docker_client = docker.from_env()


def container_of(hub, user):
    found = docker_client.containers.list(filters={"label": f"labhub.user={user}", "name": hub.prefix})
    return found[0] if found else None


def session_status(hub, user) -> dict | None:
    container = container_of(hub, user)
    if container is None:
        return None
    try:
        out = container.exec_run(["cat", "/tmp/labhub-session.json"])
    except docker.errors.APIError:  # the server stopped between the listing and the read
        return None
    return json.loads(out.output) if out.exit_code == 0 else None


def fresh_status(hub, user, timeout: float = 60) -> dict:
    """The status written by a sessions round that began after this call."""
    after = time.time()
    return wait_for(lambda: (s := session_status(hub, user)) and s["updated"] > after and s,
                    timeout, f"a sessions round on {user}'s server")
