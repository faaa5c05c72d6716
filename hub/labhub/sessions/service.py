"""The sessions service: enforces every profile's idle timeout and max age, warns first, records why.

Runs as a JupyterHub managed service (`python -m labhub.sessions`). Each round it lists the running
servers from the hub API, whose last activity each server reports itself with its own token (the
labhub-lab extension: interaction, busy kernels, kernel and terminal traffic; not background polling,
and the hub no longer copies the proxy's activity), and reads the GPU utilisation of a GPU holder
(NVML and the Docker API, labhub.gpu.usage).

It never calls a user's Jupyter server: that process belongs to the user (its config and Python path
are on the user's volume), so any credential sent to it would be the user's (docs/admin.md, security
model). What it writes into a container goes through `docker exec` (labhub.backend, where the engine can
exec) of the image's root-owned /bin/sh (not a `sh` found on the user's PATH), from a neutral cwd, and
carries no credential.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from ..profiles import Profile, ProfileSet
from ..units import format_duration
from ..backend import Backend, Server
from ..service.hubapi import server_path, user_path
from ..service.hubclient import HubClient
from .settings import SessionsSettings
from .hubside import REASON_TEXT
from .policy import Decision, Observation, decide
from .store import SessionsDB
from .warmups import WarmupRunner

log = logging.getLogger("labhub.sessions")


def _epoch(iso: str | None) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else 0.0


@dataclass
class _Seen:
    """What earlier rounds saw of one server (kept in memory; a restarted service starts fresh)."""

    gpu_last_busy: float = 0.0
    warned: set[str] = field(default_factory=set)


class SessionsService:
    def __init__(self, settings: SessionsSettings, profiles: ProfileSet, db: SessionsDB, hub: HubClient,
                 backend: Backend, gpu_utilisation=None, gpu_info=None):
        self.settings, self.profiles, self.db = settings, profiles, db
        self.hub = hub  # the service's own token (labhub.service.hubclient)
        self.gpu_utilisation = gpu_utilisation
        self.gpu_info = gpu_info  # (user, server, profile) -> the status file's "gpu" (sessions/gpuinfo.py)
        self.backend = backend  # finds servers and execs in them (labhub.backend)
        self.started_at = time.time()
        self.seen: dict[tuple[str, str], _Seen] = {}
        self.last_round: dict[tuple[str, str], dict] = {}

    # --- hub API ---

    async def running_servers(self) -> list[tuple[dict, str, dict]]:
        found = []
        async for user in self.hub.paged("/users", state="ready"):
            for name, server in (user.get("servers") or {}).items():
                if server.get("ready"):
                    found.append((user, name, server))
        return found

    # --- one server ---

    def profile_of(self, user: dict, server: dict) -> Profile | None:
        slug = (server.get("user_options") or {}).get("profile")
        groups = user.get("groups") or []
        return self.profiles.get(slug) if slug else self.profiles.default_for(groups, bool(user.get("admin")))

    def container_of(self, username: str, servername: str) -> Server | None:
        """The user's running server as the engine sees it; a server it cannot find is not judged."""
        return self.backend.server(username, servername)

    async def observe(self, user: dict, name: str, server: dict, profile: Profile, container, now: float) -> Observation:
        seen = self.seen.setdefault((user["name"], name), _Seen())
        started = _epoch(server.get("started"))
        if profile.uses_gpu:
            util = await asyncio.to_thread(self.gpu_utilisation, container) if self.gpu_utilisation else None
            if util is None or util >= self.settings.gpu_idle_threshold_percent:
                seen.gpu_last_busy = now
        return Observation(
            started=started,
            # What the server itself reported to the hub (labhub-lab); never idle since before it started.
            last_activity=max(_epoch(server.get("last_activity")), started),
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
        obs = self.warmups.exempt(obs, user["name"], name, server, now)
        decision = decide(obs, now, self.settings.warn_before)
        key = (user["name"], name)
        self.last_round[key] = {"user": user["name"], "server": name, "profile": profile.slug,
                                "action": decision.action, "reason": decision.reason,
                                "seconds_left": decision.seconds_left, "started": obs.started,
                                "idle_seconds": max(0.0, now - obs.last_activity),
                                "age_seconds_left": obs.started + obs.max_age + obs.extension - now}
        gpu = await self.gpu_status(user, name, profile)
        await asyncio.to_thread(self.write_status, container, profile, obs, decision, now, gpu)
        if decision.action == "stop":
            await self.stop(user["name"], name, decision.reason)
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

    async def gpu_status(self, user: dict, name: str, profile: Profile) -> dict | None:
        if not (self.gpu_info and profile.uses_gpu):
            return None
        try:
            return await asyncio.to_thread(self.gpu_info, user, name, profile)
        except Exception:  # only shown to the user: never let it keep a server from being judged
            log.exception("GPU status of %s/%s", user["name"], name)
            return None

    async def refresh(self, username: str, servername: str) -> None:
        """One server checked (and its status file rewritten) now, e.g. right after an admin extends it."""
        try:
            user = await self.hub.get(user_path(username))
            server = (user.get("servers") or {}).get(servername)
            if server and server.get("ready"):
                await self.check_server(user, servername, server, time.time())
        except Exception:  # the extension is recorded either way; the next round writes the file
            log.exception("refreshing %s/%s after an extension failed", username, servername)

    def status(self, profile: Profile, obs: Observation, decision: Decision, now: float, gpu: dict | None) -> dict:
        """The session status file: read by the lab (labhub-lab's status bar) and `lab-session`."""
        age_left = obs.started + obs.max_age + obs.extension - now
        stop = None
        if decision.action != "keep":
            text = REASON_TEXT.get(decision.reason, decision.reason)
            stop = {"reason": decision.reason, "in_seconds": decision.seconds_left, "at": now + decision.seconds_left,
                    "message": f"This server stops in about {format_duration(max(60, decision.seconds_left))} because "
                               f"{text}. Files in your home folder are kept."
                               + (" Only an admin can extend the maximum session length." if decision.reason == "max_age" else "")}
        return {
            "profile": profile.slug, "display_name": profile.display_name, "updated": now, "started": obs.started,
            "idle_timeout": obs.idle_timeout, "idle_seconds_left": obs.last_activity + obs.idle_timeout - now,
            "max_age": obs.max_age + obs.extension, "age_seconds_left": age_left,
            "warn_before": self.settings.warn_before, "stop": stop, "gpu": gpu,
        }

    def write_status(self, container: Server, profile: Profile, obs: Observation, decision: Decision, now: float,
                     gpu: dict | None = None) -> None:
        """/tmp/labhub-session.json in the container (uid 1000, no credential in it), where the engine can exec."""
        if not self.backend.can_exec:
            return  # e.g. swarm: the lab's status bar shows no session times then (docs/scale-out.md)
        status = self.status(profile, obs, decision, now, gpu)
        self.backend.exec(container, ["/bin/sh", "-c", 'printf "%s" "$LABHUB_SESSION" > /tmp/labhub-session.json'],
                          {"LABHUB_SESSION": json.dumps(status)})

    def broadcast(self, container: Server, decision: Decision) -> None:
        """Like `wall` on a shared machine: the warning appears in every open terminal of the lab."""
        if not self.backend.can_exec:
            log.info("%s: stop warning not shown in terminals (%s cannot exec): %s", container.name,
                     self.backend.kind, decision.reason)
            return
        minutes = max(1, round((decision.seconds_left or 0) / 60))
        message = (f"\r\n*** labhub: this server stops in about {minutes} min because "
                   f"{REASON_TEXT.get(decision.reason, decision.reason)}. Files in your home folder are kept. ***\r\n")
        script = 'for t in /dev/pts/[0-9]*; do [ -w "$t" ] && printf "%s" "$MSG" > "$t"; done; true'
        self.backend.exec(container, ["/bin/sh", "-c", script], {"MSG": message})

    # --- stopping ---

    async def stop(self, username: str, name: str, reason: str, detail: str = "") -> None:
        log.info("stopping %s/%s: %s", username, name, reason)
        self.db.expect_stop(username, name, reason, detail)
        await self.hub.request("DELETE", server_path(username, name))
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

    @functools.cached_property
    def warmups(self) -> WarmupRunner:
        """Scheduled warm-ups (labhub.sessions.warmups): the API schedules them, `run` starts them."""
        return WarmupRunner(self, self.settings.warmup)

    async def run(self) -> None:
        # Its own, shorter beat: a warm-up's starts are timed to the minute, whatever `interval` is.
        self._warmup_task = asyncio.create_task(self.warmups.run(min(self.settings.interval, 5)))
        while True:
            try:
                await self.check_all()
            except Exception:
                log.exception("sessions round failed")
            await asyncio.sleep(self.settings.interval)
