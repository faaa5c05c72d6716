"""labhub-lab: labhub's extension of the Jupyter server in a user's container.

Information flows from the user's server to the hub, never the other way: jupyterhub-singleuser
already reports the server's last activity to the hub with the server's own token, and this
extension adds to that activity what the hub cannot see by itself, a kernel busy with a silent
training loop. The hub side never calls into this server (docs/sessions.md).
"""

from __future__ import annotations

import os

from .activity import BusyKernelActivity, interval_from

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    return [{"module": "labhub_lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    watcher = BusyKernelActivity(serverapp.web_app.settings, serverapp.kernel_manager, interval_from(os.environ))
    watcher.start()
    serverapp.log.info("labhub-lab: busy kernels count as activity (checked every %ss)", watcher.interval)
