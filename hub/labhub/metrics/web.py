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
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.ioloop import IOLoop

from ..tls import service_cookie_settings
from .exporter import Exporter
from .overview import build_overview, hub_figures

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
_templates.filters["datetime"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


class ScrapeHandler(web.RequestHandler):
    def initialize(self, registry):
        self.registry = registry

    async def get(self):
        # Sources block (Docker API, files, SQLite): keep the event loop free for the admin page.
        body = await IOLoop.current().run_in_executor(None, generate_latest, self.registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.write(body)


class _OverviewMixin(HubOAuthenticated):
    def initialize(self, exporter: Exporter, hub_metrics_url: str):
        self.exporter = exporter
        self.hub_metrics_url = hub_metrics_url

    async def overview(self) -> dict:
        overview = await IOLoop.current().run_in_executor(None, build_overview, self.exporter)
        try:
            r = await AsyncHTTPClient().fetch(
                self.hub_metrics_url, headers={"Authorization": f"token {self.hub_auth.api_token}"}, request_timeout=10)
            overview.hub = hub_figures(r.body.decode())
        except (HTTPClientError, OSError) as e:
            overview.errors.append(f"hub metrics ({self.hub_metrics_url}): {e}")
        return overview.as_dict()


class OverviewPage(_OverviewMixin, web.RequestHandler):
    @web.authenticated
    async def get(self):
        data = await self.overview()
        self.write(_templates.get_template("overview.html").render(o=data, user=self.current_user["name"]))


class OverviewApi(_OverviewMixin, web.RequestHandler):
    @web.authenticated
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(await self.overview()))


def make_app(exporter: Exporter, cookie_secret: str | None = None) -> web.Application:
    """The scrape endpoint always; the admin pages when started by the hub (its OAuth is then set up)."""
    handlers: list = [(r"/metrics", ScrapeHandler, {"registry": exporter.registry()})]
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and os.environ.get("JUPYTERHUB_API_TOKEN"):
        api_url = os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
        args = {"exporter": exporter, "hub_metrics_url": api_url.rstrip("/").removesuffix("/api") + "/metrics"}
        prefix = prefix.rstrip("/") + "/"
        handlers += [
            (prefix + "oauth_callback", HubOAuthCallbackHandler),
            (prefix + "api/overview", OverviewApi, args),
            (prefix.rstrip("/") + "/?", OverviewPage, args),
        ]
    return web.Application(handlers, cookie_secret=cookie_secret or os.urandom(32).hex(), xsrf_cookies=False,
                           **service_cookie_settings())  # the OAuth callback's _xsrf cookie Secure on https
