"""How the `labhub` admin commands reach the running hub's REST API: its public address (hub.bind_url)
and, when the lab serves HTTPS itself, a TLS context that trusts the lab's own certificate besides the
system's, so a self-signed `make cert` lab is verified, never bypassed; and the API paths of a user and
a server, which every caller of the hub API builds the same way."""

from __future__ import annotations

import ssl
from urllib.parse import quote, urlsplit


def user_path(username: str) -> str:
    """A user's hub API path; the name is quoted whole, so `admin?x` cannot become `admin`."""
    return f"/users/{quote(username, safe='')}"


def server_path(username: str, servername: str) -> str:
    named = f"/servers/{quote(servername, safe='')}" if servername else "/server"
    return user_path(username) + named


def hub_api_url(settings) -> str:
    url = urlsplit(settings.hub.bind_url)
    host = url.hostname if url.hostname not in (None, "", "0.0.0.0", "::") else "127.0.0.1"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{host}{port}{url.path.rstrip('/')}/hub/api"


def hub_tls_context(settings) -> ssl.SSLContext | None:
    """None for plain HTTP (urllib's default); else the system's CAs plus hub.tls.cert."""
    if settings.hub.tls is None:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(settings.path(settings.hub.tls.cert)))
    return context
