"""labhub-lab: labhub's extension of the Jupyter server (and JupyterLab) in a user's container.

Information flows from the user's server to the hub, never the other way. The server extension
reports the server's activity to the hub with the server's own token, and it counts real
interaction (reported by the frontend), busy kernels, kernel and terminal traffic as activity, but
not the background polling of an open tab (docs/sessions.md). The frontend shows the session status
that the sessions service writes into the container, and the assignments panel, whose calls this server
makes to the submissions service as its user (assignments.py). The hub side never calls into this server.
"""

from __future__ import annotations

import os

from .activity import ActivityReporter, interval_from
from .handlers import setup_handlers

__version__ = "0.2.0"

# Where the reporter lives for the HTTP handlers (handlers.py) to reach it.
REPORTER_SETTING = "labhub_lab_reporter"


def _jupyter_server_extension_points():
    return [{"module": "labhub_lab"}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "labhub-lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    reporter = ActivityReporter.for_server(serverapp, interval_from(os.environ))
    serverapp.web_app.settings[REPORTER_SETTING] = reporter
    reporter.start()
    setup_handlers(serverapp.web_app)
    serverapp.log.info("labhub-lab: activity = interaction, busy kernels, kernel and terminal traffic "
                       "(reported every %ss)", reporter.interval)
