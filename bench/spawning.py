"""Starting and stopping user servers through a hub's REST API, timed from the POST to `ready`.

Readiness is seen by polling the admin's GET /users?state=active (one request for all users, so the
poller does not load the hub by itself); the time to ready is measured when the poll that shows it
answers, so it errs late by at most one poll interval: 0.5 s in a burst (where each poll lists every
user), 0.1 s for single spawns (SINGLE_POLL_S), whose few seconds that error would swamp. The
server's container CPU-seconds are read (cgroup) as soon as it is seen ready; the progress events of
chosen users (what their spawn page shows) are recorded with the time they arrived.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import docker
import docker.errors
import requests

from .cpu import container_cpu_s
from .sides import Side

POLL_S = 0.5
SINGLE_POLL_S = 0.1


@dataclass
class Outcome:
    user: str
    seconds: float | None  # time from the POST to ready; None when the spawn failed
    error: str | None = None
    cpu_s: float | None = None  # the server container's CPU-seconds when it was seen ready
    # (seconds since the POST, event) of the progress stream, for the users asked to be watched.
    progress: list[tuple[float, dict]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def active_servers(side: Side) -> dict[str, str]:
    """user -> "ready" or "pending", for every user with a default server that is started or starting."""
    r = side.admin.api("GET", "/users", params={"state": "active", "limit": 1000})
    r.raise_for_status()
    states = {}
    for user in r.json():
        server = (user.get("servers") or {}).get("")
        if server is not None:
            states[user["name"]] = "ready" if server.get("ready") else "pending"
    return states


def read_progress(side: Side, name: str, since: float, events: list, timeout: float) -> None:
    """Append (seconds since `since`, event) for each event of `name`'s progress stream until ready/failed."""
    url = f"{side.url}/hub/api/users/{name}/server/progress"
    with requests.get(url, headers={"Authorization": f"token {side.admin.token}"}, stream=True, timeout=timeout) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                event = json.loads(line[len("data:"):])
                events.append((time.monotonic() - since, event))
                if event.get("ready") or event.get("failed"):
                    return


def spawn_all(side: Side, names: list[str], timeout: float, watch: frozenset[str] = frozenset(),
              poll_s: float = POLL_S) -> list[Outcome]:
    """POST a server start for every name at once; wait until each is ready or failed (or `timeout`).

    The progress events of the users in `watch` are recorded (the stream is opened once the POST answered).
    """
    sent: dict[str, float] = {}
    answered: dict[str, tuple[float, str | None]] = {}  # when the POST answered, and its error if any
    progress: dict[str, list] = {name: [] for name in watch}
    docker_client = docker.from_env()

    def post(name: str) -> None:
        sent[name] = time.monotonic()
        try:
            r = side.admin.api("POST", f"/users/{name}/server", json=side.spawn_options)
            error = None if r.status_code in (201, 202) else f"POST answered {r.status_code}: {_message(r)}"
        except requests.RequestException as e:
            error = f"POST failed: {type(e).__name__}"
        answered[name] = (time.monotonic(), error)
        if name in watch and error is None:
            try:
                read_progress(side, name, sent[name], progress[name], timeout)
            except requests.RequestException:
                pass  # the figures that need it say "not measured"

    def cpu_at_ready(name: str) -> float | None:
        try:
            container = docker_client.containers.get(f"{side.name}-{name}")
        except docker.errors.NotFound:
            return None
        return container_cpu_s(docker_client, container.id)

    outcomes: dict[str, Outcome] = {}
    cpu: dict[str, Future] = {}
    started = time.monotonic()
    with ThreadPoolExecutor(max(len(names), 1) + 4) as pool:
        for name in names:
            pool.submit(post, name)
        while len(outcomes) < len(names) and time.monotonic() - started < timeout:
            asked = time.monotonic()
            try:
                states = active_servers(side)
            except requests.RequestException:
                time.sleep(poll_s)
                continue  # a busy hub may time out one poll; the next one counts
            seen = time.monotonic()
            for name in names:
                if name in outcomes or name not in sent:
                    continue
                if states.get(name) == "ready":
                    outcomes[name] = Outcome(name, seen - sent[name])
                    cpu[name] = pool.submit(cpu_at_ready, name)
                elif name in answered:
                    answered_at, error = answered[name]
                    if error:
                        outcomes[name] = Outcome(name, None, error)
                    elif name not in states and answered_at < asked:
                        # Accepted, and gone from the active servers: the hub gave up on it.
                        outcomes[name] = Outcome(name, None, "spawn failed (server stopped by the hub)")
            time.sleep(poll_s)
        for name in names:
            outcomes.setdefault(name, Outcome(name, None, f"not ready after {timeout:.0f} s"))
        for name, future in cpu.items():
            outcomes[name].cpu_s = future.result()
    for name in watch:
        outcomes[name].progress = progress[name]
    return [outcomes[name] for name in names]


def stop_all(side: Side, timeout: float = 300) -> float:
    """Stop every server of the hub, and remove leftover containers; seconds taken.

    The containers are stopped from outside first, all at once: DockerSpawner runs every Docker call of
    a hub on one thread, so a hub stopping 60 servers itself takes minutes. Its own stop then finds
    the container gone, which DockerSpawner handles as a normal stop.
    """
    started = time.monotonic()
    running = side.containers()
    if running:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(_stop_container, running))
    while time.monotonic() - started < timeout:
        try:
            names = list(active_servers(side))
        except requests.RequestException:
            time.sleep(2)
            continue
        if not names:
            break
        # All at once: a DELETE answers only when its stop is done or after the hub's 10 s "slow stop".
        # A pending spawn cannot be stopped yet (400); asking again on the next round is enough.
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda n: _delete(side, n), names))
        time.sleep(1)
    side.remove_containers()
    return time.monotonic() - started


def _stop_container(container) -> None:
    try:
        container.stop(timeout=10)
    except docker.errors.APIError:
        pass  # gone already (auto-removed)


def _delete(side: Side, name: str) -> None:
    try:
        side.admin.api("DELETE", f"/users/{name}/server")
    except requests.RequestException:
        pass


def _message(r: requests.Response) -> str:
    try:
        return str(r.json().get("message", ""))[:200]
    except ValueError:
        return r.text[:200]
