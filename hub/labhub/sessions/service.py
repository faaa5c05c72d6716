"""The sessions service: enforces every profile's idle timeout and max age, warns first, records why.

Runs as a JupyterHub managed service (`python -m labhub.sessions`). Each round it lists the running
servers from the hub API and, per server, reads what the hub cannot see by itself: whether a kernel is
busy (a training loop is not idle), the server's own last activity, and the GPU utilisation of a GPU
holder. It talks to each server directly on the labhub network with `no_track_activity`, so its own
checks never count as user activity.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

import docker
import docker.errors
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..profiles import Profile, ProfileSet
from ..spawner import LABEL_SERVER, LABEL_USER
from .config import SessionsSettings
from .hubside import REASON_TEXT
from .policy import Decision, Observation, decide
from .records import SessionsDB

log = logging.getLogger("labhub.sessions")


def _epoch(iso: str | None) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else 0.0


@dataclass
class _Seen:
    """What earlier rounds saw of one server (kept in memory; a restarted service starts fresh)."""

    last_busy: float = 0.0
    gpu_last_busy: float = 0.0
    warned: set[str] = field(default_factory=set)


class SessionsService:
    def __init__(self, settings: SessionsSettings, profiles: ProfileSet, db: SessionsDB, hub_api: str, token: str,
                 network: str, gpu_utilisation=None, docker_client: docker.DockerClient | None = None):
        self.settings, self.profiles, self.db = settings, profiles, db
        self.hub_api, self.token, self.network = hub_api.rstrip("/"), token, network
        self.gpu_utilisation = gpu_utilisation
        self.docker = docker_client or docker.from_env()
        self.http = AsyncHTTPClient()
        self.started_at = time.time()
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.last_round: dict[tuple[str, str], dict] = {}

    # --- hub API ---

    async def hub(self, method: str, path: str, body: dict | None = None) -> dict | list | None:
        request = HTTPRequest(f"{self.hub_api}{path}", method=method, headers={"Authorization": f"token {self.token}"},
                              body=json.dumps(body) if body is not None else None, request_timeout=30)
        response = await self.http.fetch(request)
        return json.loads(response.body) if response.body else None

    async def running_servers(self) -> list[tuple[dict, str, dict]]:
        found, offset = [], 0
        while True:
            page = await self.hub("GET", f"/users?state=ready&offset={offset}&limit=200")
            for user in page:
                for name, server in (user.get("servers") or {}).items():
                    if server.get("ready"):
                        found.append((user, name, server))
            if len(page) < 200:
                return found
            offset += len(page)

    # --- one server ---

    def profile_of(self, user: dict, server: dict) -> Profile | None:
        slug = (server.get("user_options") or {}).get("profile")
        groups = user.get("groups") or []
        return self.profiles.get(slug) if slug else self.profiles.default_for(groups, bool(user.get("admin")))

    def container_of(self, username: str, servername: str):
        found = self.docker.containers.list(filters={"label": [f"{LABEL_USER}={username}", f"{LABEL_SERVER}={servername}"]})
        return found[0] if found else None

    def server_url(self, container, server: dict) -> str:
        ip = container.attrs["NetworkSettings"]["Networks"][self.network]["IPAddress"]
        return f"http://{ip}:8888{server['url']}"

    async def server_api(self, base: str, path: str, method: str = "GET", body: dict | None = None):
        sep = "&" if "?" in path else "?"
        request = HTTPRequest(f"{base}api/{path}{sep}no_track_activity=1", method=method,
                              headers={"Authorization": f"token {self.token}"},
                              body=json.dumps(body) if body is not None else ("" if method == "POST" else None),
                              request_timeout=15)
        response = await self.http.fetch(request)
        return json.loads(response.body) if response.body else None

    async def observe(self, user: dict, name: str, server: dict, profile: Profile, container, now: float) -> Observation:
        key = (user["name"], name)
        seen = self.seen.setdefault(key, _Seen())
        started = _epoch(server.get("started"))
        last_activity = _epoch(server.get("last_activity"))
        base = self.server_url(container, server)
        try:
            status = await self.server_api(base, "status")
            last_activity = max(last_activity, _epoch(status.get("last_activity")))
            kernels = await self.server_api(base, "kernels")
            if any(k.get("execution_state") == "busy" for k in kernels):
                seen.last_busy = now
        except (HTTPClientError, OSError) as e:
            # Not answering is no proof of idleness: count it as busy rather than stop a working server.
            log.warning("%s/%s: cannot read kernels (%s); treating as busy", user["name"], name, e)
            seen.last_busy = now
        if profile.uses_gpu:
            util = await asyncio.to_thread(self.gpu_utilisation, container) if self.gpu_utilisation else None
            if util is None or util >= self.settings.gpu_idle_threshold_percent:
                seen.gpu_last_busy = now
        return Observation(
            started=started,
            last_activity=max(last_activity, seen.last_busy),
            idle_timeout=profile.idle_timeout,
            max_age=profile.max_age,
            extension=self.db.extension(user["name"], name),
            uses_gpu=profile.uses_gpu,
            # Before the first reading after a (re)start of this service, the GPU gets the benefit of the doubt.
            gpu_last_busy=max(seen.gpu_last_busy, started, self.started_at),
        )

    async def check_server(self, user: dict, name: str, server: dict, now: float) -> Decision | None:
        profile = self.profile_of(user, server)
        container = self.container_of(user["name"], name)
        if profile is None or container is None:
            return None
        obs = await self.observe(user, name, server, profile, container, now)
        decision = decide(obs, now, self.settings.warn_before)
        key = (user["name"], name)
        self.last_round[key] = {"user": user["name"], "server": name, "profile": profile.slug,
                                "action": decision.action, "reason": decision.reason,
                                "seconds_left": decision.seconds_left, "started": obs.started,
                                "idle_seconds": max(0.0, now - obs.last_activity),
                                "age_seconds_left": obs.started + obs.max_age + obs.extension - now}
        await asyncio.to_thread(self.write_status, container, profile, obs, decision, now)
        if decision.action == "stop":
            await self.stop(user["name"], name, server, container, decision.reason)
        elif decision.action == "warn":
            self.db.set_warning(user["name"], name, decision.reason, now + decision.seconds_left)
            seen = self.seen[key]
            if decision.reason not in seen.warned:
                seen.warned.add(decision.reason)
                await asyncio.to_thread(self.broadcast, container, decision)
        else:
            self.db.clear_warning(user["name"], name)
            self.seen[key].warned.clear()
        return decision

    # --- telling the user ---

    def write_status(self, container, profile: Profile, obs: Observation, decision: Decision, now: float) -> None:
        """/tmp/labhub-session.json in the container, read by the `lab-session` command."""
        status = {
            "profile": profile.slug, "updated": now, "started": obs.started,
            "idle_timeout": obs.idle_timeout, "idle_seconds_left": obs.last_activity + obs.idle_timeout - now,
            "max_age": obs.max_age + obs.extension, "age_seconds_left": obs.started + obs.max_age + obs.extension - now,
            "stop": {"reason": decision.reason, "in_seconds": decision.seconds_left} if decision.action != "keep" else None,
        }
        try:
            container.exec_run(["sh", "-c", 'printf "%s" "$LABHUB_SESSION" > /tmp/labhub-session.json'],
                               user="1000", environment={"LABHUB_SESSION": json.dumps(status)})
        except docker.errors.APIError as e:
            log.debug("cannot write the session status into %s: %s", container.name, e)

    def broadcast(self, container, decision: Decision) -> None:
        """Like `wall` on a shared machine: the warning appears in every open terminal of the lab."""
        minutes = max(1, round((decision.seconds_left or 0) / 60))
        message = (f"\r\n*** labhub: this server stops in about {minutes} min because "
                   f"{REASON_TEXT.get(decision.reason, decision.reason)}. Files in your home folder are kept. ***\r\n")
        script = 'for t in /dev/pts/[0-9]*; do [ -w "$t" ] && printf "%s" "$MSG" > "$t"; done; true'
        try:
            container.exec_run(["sh", "-c", script], user="1000", environment={"MSG": message})
        except docker.errors.APIError as e:
            log.debug("cannot broadcast to %s: %s", container.name, e)

    # --- stopping ---

    async def checkpoint_notebooks(self, base: str) -> None:
        """Save a checkpoint of every open notebook, so the last saved state is on disk before the stop."""
        try:
            for session in await self.server_api(base, "sessions"):
                path = session.get("path") or (session.get("notebook") or {}).get("path")
                if path:
                    await self.server_api(base, f"contents/{quote(path)}/checkpoints", method="POST")
        except (HTTPClientError, OSError) as e:
            log.warning("checkpoints before stop failed at %s: %s", base, e)

    async def stop(self, username: str, name: str, server: dict, container, reason: str, detail: str = "") -> None:
        log.info("stopping %s/%s: %s", username, name, reason)
        await self.checkpoint_notebooks(self.server_url(container, server))
        self.db.expect_stop(username, name, reason, detail)
        path = f"/users/{quote(username)}/servers/{quote(name)}" if name else f"/users/{quote(username)}/server"
        await self.hub("DELETE", path)
        self.seen.pop((username, name), None)
        self.last_round.pop((username, name), None)

    # --- the loop ---

    async def check_all(self) -> None:
        now = time.time()
        servers = await self.running_servers()
        live = {(u["name"], n) for u, n, _ in servers}
        for key in set(self.seen) - live:
            self.seen.pop(key)
            self.last_round.pop(key, None)
        for user, name, server in servers:
            try:
                await self.check_server(user, name, server, now)
            except Exception:
                log.exception("checking %s/%s failed", user["name"], name)

    async def run(self) -> None:
        while True:
            try:
                await self.check_all()
            except Exception:
                log.exception("sessions round failed")
            await asyncio.sleep(self.settings.interval)
