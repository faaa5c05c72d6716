"""The exporter's web server.

- /metrics (not under the service prefix): what Prometheus scrapes. The hub's proxy forwards only
  /services/metrics/..., so this path is reachable on the listening address only.
- /services/metrics/ : the admin page, and /services/metrics/api/overview its JSON. Both go through
  the hub's OAuth; only holders of access:services!service=metrics get in (admins, by default).
"""

from __future__ import annotations

import json
import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado import web
from tornado.ioloop import IOLoop

from ..service.hubclient import HubClient, HubError
from ..service.web import ServiceHandler, page_templates, service_app
from .exporter import Exporter
from .overview import build_overview, hub_figures

_templates = page_templates(__file__)
_templates.filters["datetime"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


class ScrapeHandler(web.RequestHandler):
    def initialize(self, registry):
        self.registry = registry

    async def get(self):
        # Sources block (Docker API, files, SQLite): keep the event loop free for the admin page.
        body = await IOLoop.current().run_in_executor(None, generate_latest, self.registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(body)


class _OverviewBase(ServiceHandler):
    def initialize(self, exporter: Exporter, hub: HubClient):
        self.exporter, self.hub = exporter, hub

    async def overview(self) -> dict:
        overview = await IOLoop.current().run_in_executor(None, build_overview, self.exporter)
        url = self.hub.hub_url + "/metrics"
        try:
            overview.hub = hub_figures((await self.hub.fetch("GET", url, timeout=10)).decode())
        except HubError as e:
            overview.errors.append(f"hub metrics ({url}): {e}")
        return overview.as_dict()


class OverviewPage(_OverviewBase):
    @web.authenticated
    async def get(self):
        data = await self.overview()
        self.write(_templates.get_template("overview.html").render(o=data, user=self.current_user["name"]))


class OverviewApi(_OverviewBase):
    @web.authenticated
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(await self.overview()))


def make_app(exporter: Exporter, cookie_secret: str) -> web.Application:
    """The scrape endpoint always; the admin pages when started by the hub (its OAuth is then set up)."""
    scrape = [(r"/metrics", ScrapeHandler, {"registry": exporter.registry()})]
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not (prefix and os.environ.get("JUPYTERHUB_API_TOKEN")):
        return web.Application(scrape)  # alone, outside the hub: only what Prometheus scrapes
    args = {"exporter": exporter, "hub": HubClient.from_env(retries=0)}  # the page shows an error instead
    prefix = prefix.rstrip("/") + "/"
    return service_app(prefix, [
        *scrape,
        (prefix + "api/overview", OverviewApi, args),
        (prefix.rstrip("/") + "/?", OverviewPage, args),
    ], cookie_secret, xsrf=False)
