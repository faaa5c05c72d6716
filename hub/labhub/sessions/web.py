"""The sessions service's HTTP API under /services/sessions/ (hub OAuth or hub API tokens).

  GET  api/me                        the caller's servers: time left before idle / max-age stops
  GET  api/servers                   (admin) every running server, as the last round saw it
  POST api/servers/<user>[/<name>]/extend  {"seconds": N}   (admin) extend a server's max age
  POST api/servers/<user>[/<name>]/stop                      (admin) stop a server, recorded as "admin"
  GET  api/stops                     (admin) recent stops with their reasons
  GET  api/warmups                   (admin, instructor) scheduled warm-ups the caller may manage
  POST api/warmups  {"group", "profile", "at", "grace"}   (admin; instructor: course-<course>) schedule one
  DELETE api/warmups/<id>            cancel one
  GET/POST warmups                   the page: the list with cancel buttons and a schedule form
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from urllib.parse import quote

from tornado import web

from ..service.hubapi import user_path
from ..service.scopes import SESSIONS_ADMIN
from ..service.web import ServiceHandler, page_templates, service_app
from ..units import format_duration
from .service import SessionsService
from .warmup import WarmupError, may_schedule, suggested_groups

_templates = page_templates(__file__)
# Warm-ups that ended within this long are still listed.
LISTED_AFTER_END = 86400


class _Base(ServiceHandler):
    def initialize(self, service: SessionsService):
        self.service = service

    def require_admin(self) -> dict:
        return self.require(SESSIONS_ADMIN, f"only admins (or holders of {SESSIONS_ADMIN}) can do this")


class MeHandler(_Base):
    @web.authenticated
    def get(self):
        name = self.current_user["name"]
        self.write_json([s for (user, _), s in self.service.last_round.items() if user == name])


class ServersHandler(_Base):
    @web.authenticated
    async def get(self):
        self.require_admin()
        self.write_json(list(self.service.last_round.values()))


class ExtendHandler(_Base):
    @web.authenticated
    async def post(self, username: str, servername: str | None):
        self.require_admin()
        try:
            seconds = int(json.loads(self.request.body or b"{}")["seconds"])
        except (ValueError, KeyError, TypeError):
            raise web.HTTPError(400, 'send {"seconds": <positive integer>}') from None
        if seconds <= 0:
            raise web.HTTPError(400, "seconds must be positive")
        total = self.service.db.extend(username, servername or "", seconds)
        # The lab reads the new end from the status file: rewrite it now, not at the next round.
        await self.service.refresh(username, servername or "")
        self.write_json({"user": username, "server": servername or "", "extension_seconds": total})


class AdminStopHandler(_Base):
    @web.authenticated
    async def post(self, username: str, servername: str | None):
        admin = self.require_admin()
        name = servername or ""
        model = await self.service.hub.get_or_none(user_path(username)) or {}
        if not (model.get("servers") or {}).get(name) or self.service.container_of(username, name) is None:
            raise web.HTTPError(404, f"{username} has no running server {name!r}")
        await self.service.stop(username, name, "admin", detail=f"by {admin['name']}")
        self.write_json({"user": username, "server": name, "stopped": True})


class StopsHandler(_Base):
    @web.authenticated
    async def get(self):
        self.require_admin()
        self.write_json([asdict(r) for r in self.service.db.recent(int(self.get_argument("limit", "100")))])


class _WarmupBase(_Base):
    """Admins and instructors only; which group each may warm up is the runner's check."""

    def caller(self) -> dict:
        caller = self.current_user  # the hub's model of the caller (admin flag, groups): no hub call
        if not may_schedule(caller):
            raise web.HTTPError(403, "warm-ups are for admins and instructors")
        return caller

    @staticmethod
    async def answer(call):
        """The runner's answer, its errors as HTTP errors saying what to fix."""
        try:
            return await call
        except WarmupError as e:
            raise web.HTTPError(400, str(e)) from None
        except PermissionError as e:
            raise web.HTTPError(403, str(e)) from None
        except LookupError as e:
            raise web.HTTPError(404, str(e)) from None

    def listed(self, caller: dict) -> list[dict]:
        return self.service.warmups.visible(caller, time.time() - LISTED_AFTER_END)


class WarmupsHandler(_WarmupBase):
    @web.authenticated
    def get(self):
        self.write_json(self.listed(self.caller()))

    @web.authenticated
    async def post(self):
        caller = self.caller()
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, 'body: send JSON like {"group": "course-cs101", "profile": "cpu", "at": "08:55"}')
        self.write_json(await self.answer(self.service.warmups.schedule(body, caller)), 201)


class WarmupHandler(_WarmupBase):
    @web.authenticated
    async def delete(self, warmup_id: str):
        self.write_json(await self.answer(self.service.warmups.cancel(int(warmup_id), self.caller())))


class WarmupsPage(_WarmupBase):
    def initialize(self, service: SessionsService, prefix: str):
        super().initialize(service)
        self.prefix = prefix

    def render_page(self, caller: dict, message: str = "", error: str = "", form: dict | None = None) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_templates.get_template("warmups.html").render(
            warmups=self.listed(caller), profiles=self.service.profiles.profiles, groups=suggested_groups(caller),
            default_grace=format_duration(self.service.settings.warmup.grace), prefix=self.prefix,
            xsrf=self.xsrf_form_html(), message=message, error=error, form=form or {}, caller=caller,
            when=lambda ts: time.strftime("%a %d %b %H:%M", time.localtime(ts)), duration=format_duration))

    @web.authenticated
    def get(self):
        self.render_page(self.caller(), message=self.get_argument("message", ""))

    @web.authenticated
    async def post(self):
        caller = self.caller()
        action = self.get_argument("action", "")
        form = {k: self.get_argument(k, "") for k in ("group", "profile", "at", "grace")}
        try:
            if action == "schedule":
                w = await self.answer(self.service.warmups.schedule(form, caller))
                message = f"warm-up {w['id']} of {w['group']} scheduled for {time.strftime('%a %H:%M', time.localtime(w['at']))}"
            elif action == "cancel":
                warmup_id = self.get_argument("id", "")
                if not warmup_id.isdigit():
                    raise web.HTTPError(400, "id: which warm-up to cancel")
                await self.answer(self.service.warmups.cancel(int(warmup_id), caller))
                message = f"warm-up {warmup_id} cancelled"
            else:
                raise web.HTTPError(400, f"action: {action!r} is neither schedule nor cancel")
        except web.HTTPError as e:
            if e.status_code != 400:
                raise
            self.set_status(400)
            return self.render_page(caller, error=e.log_message, form=form)
        self.redirect(f"{self.prefix}warmups?message={quote(message)}")


def make_app(service: SessionsService, prefix: str, cookie_secret: str) -> web.Application:
    api = f"{prefix.rstrip('/')}/api"
    args = {"service": service}
    return service_app(
        prefix,
        [
            (f"{api}/me", MeHandler, args),
            (f"{api}/servers", ServersHandler, args),
            (rf"{api}/servers/([^/]+)(?:/([^/]+))?/extend", ExtendHandler, args),
            (rf"{api}/servers/([^/]+)(?:/([^/]+))?/stop", AdminStopHandler, args),
            (f"{api}/stops", StopsHandler, args),
            (f"{api}/warmups", WarmupsHandler, args),
            (rf"{api}/warmups/([0-9]+)", WarmupHandler, args),
            (f"{prefix.rstrip('/')}/warmups", WarmupsPage, {**args, "prefix": prefix.rstrip("/") + "/"}),
        ],
        cookie_secret,
    )
