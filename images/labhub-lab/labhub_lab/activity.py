"""A busy kernel is activity: a training loop that prints nothing sends no kernel messages, so
jupyter_server's own kernel activity stands still while it runs.

Every `interval` seconds, if any kernel's execution_state is "busy", the time goes into the web
app's settings under a key ending in `_last_activity`; jupyter_server's `last_activity()` counts every
such key, and jupyterhub-singleuser sends that figure to the hub every JUPYTERHUB_ACTIVITY_INTERVAL.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime

from jupyter_core.utils import ensure_async
from tornado.ioloop import PeriodicCallback

SETTING = "labhub_busy_last_activity"
DEFAULT_INTERVAL = 60.0
# LABHUB_ACTIVITY_INTERVAL first (a profile may want it apart), else the hub's reporting interval.
INTERVAL_ENV = ("LABHUB_ACTIVITY_INTERVAL", "JUPYTERHUB_ACTIVITY_INTERVAL")


def interval_from(environ: Mapping[str, str]) -> float:
    for name in INTERVAL_ENV:
        try:
            seconds = float(environ.get(name, ""))
        except ValueError:
            continue
        if seconds > 0:
            return seconds
    return DEFAULT_INTERVAL


class BusyKernelActivity:
    def __init__(self, settings: MutableMapping, kernel_manager, interval: float):
        self.settings, self.kernel_manager, self.interval = settings, kernel_manager, interval
        self.callback: PeriodicCallback | None = None

    async def any_busy(self) -> bool:
        kernels = await ensure_async(self.kernel_manager.list_kernels())
        return any(k.get("execution_state") == "busy" for k in kernels)

    async def check(self) -> None:
        if await self.any_busy():
            # Timezone-aware UTC, like jupyter_server's own activity times it is compared with.
            self.settings[SETTING] = datetime.now(UTC)

    def start(self) -> None:
        self.callback = PeriodicCallback(self.check, self.interval * 1000)
        self.callback.start()
