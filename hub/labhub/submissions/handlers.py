"""What every handler of the service shares: hub authentication, the caller, error bodies."""

from __future__ import annotations

import mimetypes

from ..service.web import ServiceHandler
from .core import Submissions
from .problems import Problem
from .roles import Caller


class BaseHandler(ServiceHandler):
    @property
    def lab(self) -> Submissions:
        return self.settings["lab"]

    @property
    def caller(self) -> Caller:
        model = self.current_user
        if not model or model.get("kind", "user") != "user":
            raise Problem(403, "only hub users can use this service")
        return Caller.from_hub_model(model)

    def send_file(self, filename: str, data: bytes) -> None:
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if kind.startswith("text/") or filename.endswith((".ipynb", ".py")):
            kind = "application/octet-stream"  # downloaded, never rendered in the service's origin
        self.set_header("Content-Type", kind)
        self.set_header("X-Content-Type-Options", "nosniff")
        base = filename.rsplit("/", 1)[-1].replace('"', "")
        self.set_header("Content-Disposition", f'attachment; filename="{base}"')
        self.finish(data)
