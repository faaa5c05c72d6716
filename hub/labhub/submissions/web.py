"""The service's tornado app: the JSON API (api.py) and the pages (pages.py) under its prefix."""

from __future__ import annotations

from tornado import web

from ..service.web import service_app
from .api import api_routes
from .core import Submissions
from .pages import page_routes


def make_app(lab: Submissions, prefix: str, hub_prefix: str, cookie_secret: str) -> web.Application:
    prefix = prefix.rstrip("/") + "/"
    return service_app(prefix, [*api_routes(prefix), *page_routes(prefix)], cookie_secret, xsrf=False,
                       lab=lab, prefix=prefix, hub_prefix=hub_prefix)
