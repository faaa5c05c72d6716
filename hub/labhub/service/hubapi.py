"""How the `labhub` admin commands reach the running hub's REST API: its public address (hub.bind_url),
an admin's token from --token or $JUPYTERHUB_API_TOKEN and, when the lab serves HTTPS itself, a TLS
context that trusts the lab's own certificate besides the system's, so a self-signed `make cert` lab is
verified, never bypassed; and the API paths of a user and a server, which every caller of the hub API
builds the same way."""

from __future__ import annotations

import os
import ssl
from urllib.parse import quote, urlsplit

from .hubclient import HubClient, HubError

TOKEN_PAGE = "make one on the hub's /hub/token page"


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


class CommandRefused(Exception):
    """What an admin command tells its user when the hub cannot be asked or said no."""


def hub_options(parser, who: str = "an admin's", without: str = "") -> None:
    """--token and --hub-api, the same in every command that calls the running hub."""
    parser.add_argument("--token", default=os.environ.get("JUPYTERHUB_API_TOKEN"),
                        help=f"{who} hub API token (default: $JUPYTERHUB_API_TOKEN; {TOKEN_PAGE}){without}")
    parser.add_argument("--hub-api", help="the hub API's URL (default: from hub.bind_url)")


def command_client(settings, args, who: str = "an admin's", timeout: float = 120) -> HubClient:
    if not args.token:
        raise CommandRefused(f"no hub API token: give {who} token with --token or $JUPYTERHUB_API_TOKEN ({TOKEN_PAGE})")
    return HubClient(args.hub_api or hub_api_url(settings), args.token, context=hub_tls_context(settings),
                     timeout=timeout)


def refusal(error: HubError, who: str = "the hub", hint: str = "") -> CommandRefused:
    """The command's line for a HubError: nothing answering, or the answer's own message."""
    if error.unreachable:
        return CommandRefused(f"nothing answers at {error.url} ({error.message}); is the lab up (make up)?")
    return CommandRefused(f"{who} answered {error.code}: {error.message}{hint if error.code == 403 else ''}")
