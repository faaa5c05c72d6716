"""What the JSON APIs of labhub's own services share: hub authentication, XSRF, JSON bodies."""

from __future__ import annotations

import json

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web


class JsonApiHandler(HubOAuthenticated, web.RequestHandler):
    """A service handler whose callers are the hub's users (OAuth cookie) or their API tokens."""

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

    def write_json(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs) -> None:
        # Errors are JSON too, with the message that says what to fix.
        exc = kwargs.get("exc_info", (None, None))[1]
        message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else self._reason
        self.write_json({"status": status_code, "message": message}, status_code)
