"""What the JSON APIs of labhub's own services share: hub authentication, XSRF, JSON bodies."""

from __future__ import annotations

import json

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web


class JsonApiHandler(HubOAuthenticated, web.RequestHandler):
    """A service handler whose callers are the hub's users (OAuth cookie) or their API tokens."""

    def check_xsrf_cookie(self):
        # Token-authenticated API calls carry no cookie; cookie-authenticated ones keep tornado's check.
        if not self.request.headers.get("Authorization"):
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
