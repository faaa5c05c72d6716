"""Scheduled warm-ups, the running part (inside the sessions service): start a group's servers early
enough, notice when each is ready, and tell the idle rules which servers are exempt.

The starts are ordinary hub API starts (`POST /users/<name>/server` with the profile as user options),
so the hub's LabSpawner puts them through the admission line like any other start. The lead time comes
from the line's own estimate, which the hub publishes on /hub/metrics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import datetime
from urllib.parse import quote

from prometheus_client.parser import text_string_to_metric_families

from ..service.hubapi import user_path
from ..service.hubclient import HubError
from .settings import WarmupSettings
from .policy import Observation
from .warmup import WarmupError, lead_time, may_warm_up, read_request
from .warmupstore import Warmup, WarmupStore, as_json

log = logging.getLogger("labhub.sessions")
PER_PLACE_METRIC = "labhub_spawn_queue_seconds_per_place"
# Start requests at once: each may take the hub's slow_spawn_timeout (10 s) to answer while it waits
# in line, and more at once would only queue in the HTTP client.
PARALLEL_REQUESTS = 8
SERVER = ""  # warm-ups start users' default servers
# No warm-up starts earlier than this: until then its group and the hub's estimate are not even read.
MAX_LEAD_S = 6 * 3600


class WarmupRunner:
    def __init__(self, service, settings: WarmupSettings):
        self.service, self.settings = service, settings
        self.store = WarmupStore(service.db)

    # --- scheduling (the API and the page call these) ---

    async def schedule(self, body, caller: dict) -> dict:
        request = read_request(body, {p.slug for p in self.service.profiles.profiles}, self.settings,
                               datetime.now().astimezone())
        if not may_warm_up(caller, request.group):
            raise PermissionError(f"you may not warm up group {request.group!r}: admins may warm up any group, "
                                  "instructors their course's course-<course> group")
        members = await self.members(request.group)
        if members is None:
            raise WarmupError("group", f"there is no hub group {request.group!r}")
        if not members:
            raise WarmupError("group", f"group {request.group!r} has no members")
        warmup = self.store.add(request, caller["name"])
        log.info("%s scheduled a warm-up of %s (%d users, %s) at %s", caller["name"], request.group, len(members),
                 request.profile, datetime.fromtimestamp(request.at).isoformat(timespec="minutes"))
        return self.describe(warmup)

    def describe(self, warmup: Warmup) -> dict:
        return as_json(warmup, self.store.servers(warmup.id))

    def visible(self, caller: dict, since: float) -> list[dict]:
        return [self.describe(w) for w in self.store.listed(since) if may_warm_up(caller, w.group)]

    async def cancel(self, warmup_id: int, caller: dict) -> dict:
        warmup = self.store.get(warmup_id)
        if warmup is None or not may_warm_up(caller, warmup.group):
            raise LookupError(f"no warm-up {warmup_id} of yours")
        if not self.store.set_state(warmup_id, "cancelled"):
            raise WarmupError("id", f"warm-up {warmup_id} is {warmup.state} already")
        log.info("%s cancelled warm-up %d of %s", caller["name"], warmup_id, warmup.group)
        return self.describe(self.store.get(warmup_id))

    # --- the hub ---

    async def members(self, group: str) -> list[str] | None:
        model = await self.service.hub.get_or_none(f"/groups/{quote(group, safe='')}")
        return None if model is None else sorted(model.get("users") or [])

    async def seconds_per_place(self) -> float:
        """The admission line's current estimate, from the hub's /hub/metrics; the setting before the hub
        has one (no start since its own start) or when the metrics cannot be read."""
        url = self.service.hub.hub_url + "/metrics"
        try:
            for family in text_string_to_metric_families((await self.service.hub.fetch("GET", url)).decode()):
                for sample in family.samples:
                    if sample.name == PER_PLACE_METRIC and sample.value > 0:
                        return sample.value
        except Exception as e:  # the fallback only starts earlier than needed
            log.warning("cannot read the admission estimate from %s: %s", url, e)
        return self.settings.seconds_per_server

    # --- each tick ---

    async def tick(self, now: float) -> None:
        for warmup in self.store.listed(now):
            try:
                if warmup.state == "scheduled":
                    await self.maybe_start(warmup, now)
                elif warmup.state == "started":
                    await self.follow(warmup, now)
            except Exception:
                log.exception("warm-up %d of %s", warmup.id, warmup.group)

    async def maybe_start(self, warmup: Warmup, now: float) -> None:
        if now >= warmup.until:  # the hub (or this service) was down all through it
            self.store.set_state(warmup.id, "missed", only_from=("scheduled",))
            return
        if now < warmup.at - MAX_LEAD_S:
            return
        members = await self.members(warmup.group) or []
        lead = lead_time(len(members), await self.seconds_per_place(), self.settings.margin)
        if now < warmup.at - lead:
            return
        if not self.store.set_state(warmup.id, "started", only_from=("scheduled",)):
            return  # cancelled meanwhile
        log.info("warm-up %d: starting %d servers of %s (%s), %.0f s before %s", warmup.id, len(members),
                 warmup.group, warmup.profile, warmup.at - now,
                 datetime.fromtimestamp(warmup.at).isoformat(timespec="seconds"))
        limit = asyncio.Semaphore(PARALLEL_REQUESTS)

        async def start(user: str) -> None:
            async with limit:
                await self.start_one(warmup, user)

        await asyncio.gather(*(start(user) for user in members))

    async def start_one(self, warmup: Warmup, user: str) -> None:
        path = user_path(user)
        try:
            model = await self.service.hub.get(path)
            if (model.get("servers") or {}).get(SERVER):
                self.store.add_server(warmup.id, user, SERVER, "skipped")  # running or starting: not ours
                return
            await self.service.hub.request("POST", f"{path}/server", {"profile": warmup.profile})
            server = ((await self.service.hub.get(path)).get("servers") or {}).get(SERVER) or {}
            self.store.add_server(warmup.id, user, SERVER, "starting", server.get("started"))
        except HubError as e:
            log.warning("warm-up %d: the start of %s failed: %s", warmup.id, user, str(e)[:300])
            self.store.add_server(warmup.id, user, SERVER, "failed")

    async def follow(self, warmup: Warmup, now: float) -> None:
        """Note when each server became ready (or that it did not start); done at the warm-up's end."""
        for warmed in self.store.servers(warmup.id):
            if warmed.outcome != "starting":
                continue
            model = await self.service.hub.get(user_path(warmed.user))
            server = (model.get("servers") or {}).get(warmed.server)
            if server is None or server.get("started") != warmed.started:
                self.store.update_server(warmup.id, warmed.user, warmed.server, outcome="failed")
            elif server.get("ready"):
                self.store.update_server(warmup.id, warmed.user, warmed.server, outcome="ready", ready_at=now)
                log.info("warm-up %d: %s ready %.0f s before %s", warmup.id, warmed.user, warmup.at - now,
                         datetime.fromtimestamp(warmup.at).isoformat(timespec="seconds"))
        if now >= warmup.until:
            self.store.set_state(warmup.id, "done", only_from=("started",))

    def exempt(self, obs: Observation, user: str, name: str, server: dict, now: float) -> Observation:
        """`obs` with the warm-up's end and ready time, when a warm-up started this server."""
        found = self.store.exemption(user, name, server.get("started"))
        if found is None:
            return obs
        warmup, warmed = found
        if warmed.ready_at is None:  # the round saw it ready before the warm-up's own check did
            self.store.update_server(warmup.id, user, name, outcome="ready", ready_at=now)
        return dataclasses.replace(obs, warmup_until=warmup.until, warmup_ready=warmed.ready_at or now)

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.tick(time.time())
            except Exception:
                log.exception("warm-up round failed")
            await asyncio.sleep(interval)

