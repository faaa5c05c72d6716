"""The extension's HTTP API under <base_url>labhub-lab/api/ (the frontend's only server calls).

  POST interaction  {"source": "keyboard"|"mouse"|"execute"|"save"|"terminal"|"still-there"}  -> 204
  GET  status       {"session": <the sessions service's status file> | null,
                     "activity": {"last_interaction", "last_reported", "interval"}, "gpu": {...} | null}
  .../assignments/...  the assignments panel's calls to the submissions service (assignments.py)

All are jupyter_server API handlers: only who may use this server (the hub's OAuth or the
server's token) reaches them. None counts as API activity; only the interaction it reports does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .activity import SOURCES
from .assignments import assignment_routes

# Written by the hub's sessions service (docker exec, as uid 1000) every round.
SESSION_FILE = "/tmp/labhub-session.json"
REPORTER_SETTING = "labhub_lab_reporter"  # the same key as the package's __init__ stores it under


def read_session(path: str = SESSION_FILE) -> dict | None:
    try:
        with open(path) as f:
            session = json.load(f)
    except (OSError, ValueError):  # before the first round, or caught mid-write
        return None
    return session if isinstance(session, dict) else None


def gpu_from(environ: Mapping[str, str]) -> dict | None:
    """The GPU the hub's broker leased to this server, from the environment it was started with."""
    uuids = environ.get("LABHUB_GPU_UUIDS") or environ.get("NVIDIA_VISIBLE_DEVICES", "")
    if uuids in ("", "void", "none"):
        return None
    limit = environ.get("LABHUB_GPU_MEMORY_LIMIT_MB", "")
    return {"uuids": [u for u in uuids.split(",") if u], "mode": environ.get("LABHUB_GPU_MODE", "whole"),
            "memory_limit_mb": int(limit) if limit.isdigit() else None}


class _Base(APIHandler):
    # The frontend polls status; that (and these calls in general) must not look like use.
    _track_activity = False

    @property
    def reporter(self):
        return self.settings[REPORTER_SETTING]


class InteractionHandler(_Base):
    @web.authenticated
    def post(self):
        try:
            source = json.loads(self.request.body or b"{}").get("source")
        except (ValueError, AttributeError):
            source = None
        if source not in SOURCES:
            raise web.HTTPError(400, f'send {{"source": one of {", ".join(sorted(SOURCES))}}}, not {source!r}')
        self.reporter.record_interaction(source, urgent=source == "still-there")
        self.set_status(204)
        self.finish()


class StatusHandler(_Base):
    @web.authenticated
    def get(self):
        self.finish(json.dumps({"session": read_session(), "activity": self.reporter.status(),
                                "gpu": gpu_from(os.environ)}))


def setup_handlers(web_app) -> None:
    api = url_path_join(web_app.settings["base_url"], "labhub-lab", "api")
    web_app.add_handlers(".*$", [(url_path_join(api, "interaction"), InteractionHandler),
                                 (url_path_join(api, "status"), StatusHandler),
                                 *assignment_routes(api)])
