"""The sessions service's HTTP API under /services/sessions/ (hub OAuth or hub API tokens).

  GET  api/me                        the caller's servers: time left before idle / max-age stops
  GET  api/servers                   (admin) every running server, as the last round saw it
  POST api/servers/<user>[/<name>]/extend  {"seconds": N}   (admin) extend a server's max age
  POST api/servers/<user>[/<name>]/stop                      (admin) stop a server, recorded as "admin"
  GET  api/stops                     (admin) recent stops with their reasons
"""

from __future__ import annotations

import json
from dataclasses import asdict

from jupyterhub.services.auth import HubOAuthCallbackHandler
from tornado import web
from tornado.httpclient import HTTPClientError

from ..tls import service_cookie_settings
from ..webapi import JsonApiHandler
from .service import SessionsService, user_path


class _Base(JsonApiHandler):
    def initialize(self, service: SessionsService):
        self.service = service

    async def require_admin(self) -> dict:
        user = self.current_user
        if user is None:
            raise web.HTTPError(403)
        model = await self.service.hub("GET", user_path(user["name"]))
        if not model.get("admin"):
            raise web.HTTPError(403, "only admins can do this")
        return user


class MeHandler(_Base):
    @web.authenticated
    def get(self):
        name = self.current_user["name"]
        self.write_json([s for (user, _), s in self.service.last_round.items() if user == name])


class ServersHandler(_Base):
    @web.authenticated
    async def get(self):
        await self.require_admin()
        self.write_json(list(self.service.last_round.values()))


class ExtendHandler(_Base):
    @web.authenticated
    async def post(self, username: str, servername: str | None):
        await self.require_admin()
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
        admin = await self.require_admin()
        name = servername or ""
        try:
            model = await self.service.hub("GET", user_path(username))
        except HTTPClientError as e:
            if e.code != 404:
                raise
            model = {}
        if not (model.get("servers") or {}).get(name) or self.service.container_of(username, name) is None:
            raise web.HTTPError(404, f"{username} has no running server {name!r}")
        await self.service.stop(username, name, "admin", detail=f"by {admin['name']}")
        self.write_json({"user": username, "server": name, "stopped": True})


class StopsHandler(_Base):
    @web.authenticated
    async def get(self):
        await self.require_admin()
        self.write_json([asdict(r) for r in self.service.db.recent(int(self.get_argument("limit", "100")))])


def make_app(service: SessionsService, prefix: str, cookie_secret: bytes) -> web.Application:
    api = f"{prefix.rstrip('/')}/api"
    args = {"service": service}
    return web.Application(
        [
            (f"{api}/me", MeHandler, args),
            (f"{api}/servers", ServersHandler, args),
            (rf"{api}/servers/([^/]+)(?:/([^/]+))?/extend", ExtendHandler, args),
            (rf"{api}/servers/([^/]+)(?:/([^/]+))?/stop", AdminStopHandler, args),
            (f"{api}/stops", StopsHandler, args),
            (f"{prefix.rstrip('/')}/oauth_callback", HubOAuthCallbackHandler),
        ],
        cookie_secret=cookie_secret,
        xsrf_cookies=True,
        **service_cookie_settings(),  # its _xsrf cookie Secure on an https lab
    )
