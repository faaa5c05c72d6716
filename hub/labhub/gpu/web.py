"""The GPU service's page and API at /services/gpu/, for whoever holds access:services!service=gpu:
admins (JupyterHub's admin role holds every access scope), and those a role grants it to. The hub's OAuth
lets no one else in, so no handler asks the hub again (labhub.service.web).

  GET    /services/gpu/                              the page: units, leases, queue, quotas, hours used
  GET    /services/gpu/api/leases                    the same as JSON
  DELETE /services/gpu/api/leases/<user>[/<server>]  revoke: stop the holder's server, free the lease
  PUT    /services/gpu/api/quotas/<user|group>/<name>  {"hours": 10} or {"hours": null} (back to defaults)
"""

from __future__ import annotations

import json
from urllib.parse import quote

from tornado import web

from ..service.web import ServiceHandler, page_templates, service_app
from ..units import format_size
from .service import GpuService

_templates = page_templates(__file__)


class _Base(ServiceHandler):
    def initialize(self, service: GpuService, prefix: str):
        self.service, self.prefix = service, prefix


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


def make_app(service: GpuService, prefix: str, cookie_secret: str) -> web.Application:
    base = prefix.rstrip("/")
    args = {"service": service, "prefix": base + "/"}
    return service_app(prefix, [
        (f"{base}/?", PageHandler, args),
        (f"{base}/api/leases", LeasesHandler, args),
        (rf"{base}/api/leases/([^/]+)(?:/([^/]+))?", LeaseHandler, args),
        (rf"{base}/api/quotas/(user|group)/([^/]+)", QuotaHandler, args),
    ], cookie_secret)
