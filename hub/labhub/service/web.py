"""The web side every labhub service shares: handlers whose callers are the hub's users (its OAuth
cookie in a browser, or their API tokens), access decided by the JupyterHub scopes the hub gave the
caller's token, JSON bodies and errors, and the tornado app around them.

Access is the hub's decision, never an extra hub call per request: HubOAuth lets in only holders of
`access:services!service=<name>`, and the model it returns carries the token's scopes and the identity
fields (name, admin flag, groups) a handler may decide on (labhub.service.scopes).
"""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from jupyterhub.log import log_request
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web

from ..tls import service_cookie_settings
from .scopes import holds


KIT_TEMPLATES = Path(__file__).parent / "templates"


def page_templates(package: str | Path) -> Environment:
    """The templates of the service whose package file is `package`, which extend the kit's service.html."""
    return Environment(loader=ChoiceLoader([FileSystemLoader(Path(package).parent / "templates"),
                                            FileSystemLoader(KIT_TEMPLATES)]),
                       autoescape=select_autoescape(["html"]))


class ServiceHandler(HubOAuthenticated, web.RequestHandler):
    def check_xsrf_cookie(self):
        """Tornado's XSRF check, skipped only for a request the hub accepted a token for.

        Tornado checks before the handler has authenticated, so a request with a token is
        authenticated first: a header the hub does not accept (`Authorization: token x`) must not
        exempt a cookie-authenticated request. Like JupyterHub's own API handlers.
        """
        if getattr(self, "_token_authenticated", False):
            return
        if not hasattr(self, "_cached_hub_user") and self.hub_auth.get_token(self, in_cookie=False):
            self.current_user  # sets _token_authenticated when the hub accepts the token
            if getattr(self, "_token_authenticated", False):
                return
        super().check_xsrf_cookie()

    def require(self, scope: str, refusal: str) -> dict:
        """The caller's model when its token holds `scope` (or the admin flag stands for it), else 403."""
        caller = self.current_user
        if not holds(caller, scope):
            raise web.HTTPError(403, refusal)
        return caller

    def write_json(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def error_message(self, exc_info) -> str:
        exc = exc_info[1] if exc_info else None
        if isinstance(exc, web.HTTPError) and exc.log_message:
            return exc.log_message % exc.args if exc.args else exc.log_message
        return self._reason

    def write_error(self, status_code: int, **kwargs) -> None:
        # Errors are JSON too, with the message that says what to fix.
        self.write_json({"status": status_code, "message": self.error_message(kwargs.get("exc_info"))}, status_code)


def service_app(service_prefix: str, routes: list, cookie_secret: str | bytes, *, xsrf: bool = True,
                **settings) -> web.Application:
    """A service's tornado app: its routes, the OAuth callback the hub redirects to after a login, cookies
    signed with the kept secret (labhub.service.cookies), Secure on an https lab, the hub's access log."""
    base = service_prefix.rstrip("/") + "/"
    return web.Application(
        [*routes, (f"{base}oauth_callback", HubOAuthCallbackHandler)],
        cookie_secret=cookie_secret,
        xsrf_cookies=xsrf,
        log_function=log_request,  # JupyterHub's: tokens and OAuth codes scrubbed from the logged URL
        **service_cookie_settings(),
        **settings,
    )
