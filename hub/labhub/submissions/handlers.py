"""What every handler of the service shares: hub authentication, the caller, error bodies."""

from __future__ import annotations

import json
import mimetypes

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from .core import Submissions
from .problems import Problem
from .roles import Caller


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    @property
    def lab(self) -> Submissions:
        return self.settings["lab"]

    @property
    def caller(self) -> Caller:
        model = self.current_user
        if not model or model.get("kind", "user") != "user":
            raise Problem(403, "only hub users can use this service")
        return Caller.from_hub_model(model)

    def message_of(self, status_code: int, exc_info) -> str:
        exc = exc_info[1] if exc_info else None
        if isinstance(exc, web.HTTPError) and exc.log_message:
            return exc.log_message % exc.args
        return self._reason

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"status": status_code, "message": self.message_of(status_code, kwargs.get("exc_info"))}))

    def send_file(self, filename: str, data: bytes) -> None:
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if kind.startswith("text/") or filename.endswith((".ipynb", ".py")):
            kind = "application/octet-stream"  # downloaded, never rendered in the service's origin
        self.set_header("Content-Type", kind)
        self.set_header("X-Content-Type-Options", "nosniff")
        base = filename.rsplit("/", 1)[-1].replace('"', "")
        self.set_header("Content-Disposition", f'attachment; filename="{base}"')
        self.finish(data)
