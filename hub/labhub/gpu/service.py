"""`python -m labhub.gpu.service`: the admin page and API for GPU sharing, at /services/gpu/.

Admins only (hub OAuth in the browser, or a hub API token in `Authorization: token ...`):

  GET    /services/gpu/                              the page: units, leases, queue, quotas, hours used
  GET    /services/gpu/api/leases                    the same as JSON
  DELETE /services/gpu/api/leases/<user>[/<server>]  revoke: stop the holder's server, free the lease
  PUT    /services/gpu/api/quotas/<user|group>/<name>  {"hours": 10} or {"hours": null} (back to defaults)

It also reclaims, every gpu.reconcile_interval, the leases whose container is gone or stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from pathlib import Path
from urllib.parse import quote

import docker
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthCallbackHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ..settings import Settings, load_settings
from ..units import format_size
from ..tls import service_cookie_settings
from ..webapi import JsonApiHandler
from ..backend import backend_for
from .hubside import open_store
from .inventory import Inventory, load_inventory
from .report import overview
from .revoke import HubApi, revoke
from .store import LeaseStore

log = logging.getLogger("labhub.gpu")

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]))


class GpuService:
    def __init__(self, settings: Settings, inventory: Inventory, store: LeaseStore, hub: HubApi, client):
        self.settings, self.inventory, self.store, self.hub, self.docker = settings, inventory, store, hub, client
        self.http = AsyncHTTPClient()

    async def is_admin(self, name: str) -> bool:
        request = HTTPRequest(f"{self.hub.url.rstrip('/')}/users/{quote(name)}",
                              headers={"Authorization": f"token {self.hub.token}"}, request_timeout=30)
        response = await self.http.fetch(request, raise_error=False)
        return response.code == 200 and bool(json.loads(response.body).get("admin"))

    def overview(self) -> dict:
        return overview(self.store, self.inventory, self.settings.gpu)

    async def revoke(self, user: str, server: str) -> dict:
        lease = self.store.lease_for(user, server)
        if lease is None:
            raise web.HTTPError(404, f"{user} holds no GPU lease" + (f" for server {server!r}" if server else ""))
        outcome = await asyncio.to_thread(revoke, self.store, lease, self.hub, self.docker)
        return {"revoked": lease.id, "user": user, "server": server, "units": list(lease.units), "outcome": outcome}

    def set_quota(self, kind: str, name: str, hours) -> dict:
        if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours < 0):
            raise web.HTTPError(400, 'hours must be a number of GPU-hours (0 or more), or null to remove the quota')
        self.store.set_quota(kind, name, None if hours is None else float(hours))
        return {"kind": kind, "name": name, "hours": hours}

    async def reconcile_forever(self) -> None:
        grace = self.settings.spawner.start_timeout + 60
        while True:
            await asyncio.sleep(self.settings.gpu.reconcile_interval)
            try:
                states = await asyncio.to_thread(backend_for(self.settings, self.docker).server_states)
                for lease in await asyncio.to_thread(self.store.reconcile, states, grace):
                    log.warning("GPU lease %d of %s reclaimed: container %s is gone or stopped", lease.id,
                                lease.user, lease.container)
            except Exception:
                log.exception("reconciling GPU leases failed; trying again next round")


class _Base(JsonApiHandler):
    def initialize(self, service: GpuService, prefix: str):
        self.service, self.prefix = service, prefix

    async def prepare(self):
        user = self.current_user
        if user is None:
            return  # @web.authenticated redirects to the hub's login, or answers 403
        if not await self.service.is_admin(user["name"]):
            raise web.HTTPError(403, "GPU administration is for admins only")


class PageHandler(_Base):
    @web.authenticated
    def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_templates.get_template("admin.html").render(
            data=self.service.overview(), prefix=self.prefix, xsrf=self.xsrf_form_html(), size=format_size,
            message=self.get_argument("message", "")))

    @web.authenticated
    async def post(self):
        action = self.get_argument("action")
        if action == "revoke":
            result = await self.service.revoke(self.get_argument("user"), self.get_argument("server", ""))
            message = result["outcome"]
        elif action == "quota":
            raw = self.get_argument("hours").strip()
            try:
                hours = None if raw in ("", "none") else float(raw)
            except ValueError:
                raise web.HTTPError(400, f"hours: {raw!r} is not a number (leave empty to remove the quota)") from None
            kind, name = self.get_argument("kind"), self.get_argument("name").strip()
            if kind not in ("user", "group") or not name:
                raise web.HTTPError(400, "choose user or group and give its name")
            self.service.set_quota(kind, name, hours)
            message = f"quota of {kind} {name}: " + ("removed" if hours is None else f"{hours:g} GPU-hours a week")
        else:
            raise web.HTTPError(400, f"unknown action {action!r}")
        self.redirect(f"{self.prefix}?message={quote(message)}")


class LeasesHandler(_Base):
    @web.authenticated
    def get(self):
        self.write_json(self.service.overview())


class LeaseHandler(_Base):
    @web.authenticated
    async def delete(self, user: str, server: str | None):
        self.write_json(await self.service.revoke(user, server or ""))


class QuotaHandler(_Base):
    @web.authenticated
    def put(self, kind: str, name: str):
        try:
            body = json.loads(self.request.body or b"{}")
            hours = body["hours"]
        except (ValueError, KeyError, TypeError):
            raise web.HTTPError(400, 'send {"hours": <GPU-hours per week>} or {"hours": null}') from None
        self.write_json(self.service.set_quota(kind, name, hours))


def make_app(service: GpuService, prefix: str, cookie_secret: bytes) -> web.Application:
    base = prefix.rstrip("/")
    args = {"service": service, "prefix": base + "/"}
    return web.Application(
        [
            (f"{base}/?", PageHandler, args),
            (f"{base}/api/leases", LeasesHandler, args),
            (rf"{base}/api/leases/([^/]+)(?:/([^/]+))?", LeaseHandler, args),
            (rf"{base}/api/quotas/(user|group)/([^/]+)", QuotaHandler, args),
            (f"{base}/oauth_callback", HubOAuthCallbackHandler),
        ],
        cookie_secret=cookie_secret,
        xsrf_cookies=True,
        **service_cookie_settings(),  # its _xsrf cookie Secure on an https lab
    )


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s gpu] %(message)s")
    settings = load_settings()
    inventory = load_inventory(settings.gpu)
    store = open_store(settings, inventory)
    hub = HubApi(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    service = GpuService(settings, inventory, store, hub, docker.from_env())
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/gpu/")
    make_app(service, prefix, secrets.token_bytes(32)).listen(settings.gpu.service_port, address="127.0.0.1")
    log.info("GPU admin at %s (%s inventory, %d units)", prefix, inventory.source, len(inventory.units))
    await service.reconcile_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # the hub stops its services with a signal
        pass
