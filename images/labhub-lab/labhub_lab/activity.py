"""The server's activity, as labhub counts it, reported to the hub with the server's own token.

Activity is interaction the frontend reports (keyboard, mouse, execution, save, terminal input, the
"still there?" button), a busy kernel (a silent training loop sends no messages), kernel messages
(code executed through the API) and terminal traffic. It is not jupyter_server's `api_last_activity`:
an open JupyterLab tab polls the REST API all day, and that is not someone using the server.
jupyterhub-singleuser's own reporting is switched off in labhub images (it sends jupyter_server's
figure, polling included); this reporter takes its place, with the same request.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from jupyter_core.utils import ensure_async
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop, PeriodicCallback

log = logging.getLogger("labhub_lab")

# Seen by jupyter_server's own last_activity() (every `*_last_activity` setting counts there), so
# /api/status also shows a busy kernel; the hub never sees that figure.
BUSY_SETTING = "labhub_busy_last_activity"
DEFAULT_INTERVAL = 60.0
# LABHUB_ACTIVITY_INTERVAL first (a profile may want it apart), else the hub's reporting interval.
INTERVAL_ENV = ("LABHUB_ACTIVITY_INTERVAL", "JUPYTERHUB_ACTIVITY_INTERVAL")
SOURCES = frozenset({"keyboard", "mouse", "execute", "save", "terminal", "still-there"})


def interval_from(environ: Mapping[str, str]) -> float:
    for name in INTERVAL_ENV:
        try:
            seconds = float(environ.get(name, ""))
        except ValueError:
            continue
        if seconds > 0:
            return seconds
    return DEFAULT_INTERVAL


def epoch(value) -> float | None:
    """A jupyter_server time (aware datetime or ISO string) as epoch seconds; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def isoformat(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Figures:
    """Everything that counts as activity, in epoch seconds (None: never happened)."""

    started: float
    last_interaction: float | None = None
    last_busy: float | None = None
    kernels: tuple[float, ...] = ()  # each kernel's last message (execution through the API counts)
    terminals: tuple[float, ...] = ()  # each terminal's last traffic


def server_activity(f: Figures) -> float:
    candidates = [f.started, f.last_interaction, f.last_busy, *f.kernels, *f.terminals]
    return max(t for t in candidates if t is not None)


def figures_from(settings: Mapping, kernels: Iterable[Mapping], terminals: Iterable[Mapping],
                 last_interaction: float | None, last_busy: float | None) -> Figures:
    """The figures from jupyter_server's settings and kernel/terminal models. Only `started` is read
    from the settings: `api_last_activity` and `last_activity_times` move with every polled request."""
    return Figures(
        started=epoch(settings.get("started")) or time.time(),
        last_interaction=last_interaction,
        last_busy=last_busy,
        kernels=tuple(t for k in kernels if (t := epoch(k.get("last_activity"))) is not None),
        terminals=tuple(t for m in terminals if (t := epoch(m.get("last_activity"))) is not None),
    )


@dataclass(frozen=True)
class HubTarget:
    url: str
    token: str
    server_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HubTarget | None:
        """Where jupyterhub-singleuser would send activity; None outside a hub (plain `jupyter server`)."""
        token = environ.get("JUPYTERHUB_API_TOKEN") or environ.get("JPY_API_TOKEN")
        url = environ.get("JUPYTERHUB_ACTIVITY_URL")
        if not url and environ.get("JUPYTERHUB_API_URL") and environ.get("JUPYTERHUB_USER"):
            url = f"{environ['JUPYTERHUB_API_URL'].rstrip('/')}/users/{quote(environ['JUPYTERHUB_USER'], safe='')}/activity"
        if not (url and token):
            return None
        return cls(url, token, environ.get("JUPYTERHUB_SERVER_NAME", ""))

    def request(self, when: float) -> HTTPRequest:
        iso = isoformat(when)
        body = {"servers": {self.server_name: {"last_activity": iso}}, "last_activity": iso}
        return HTTPRequest(self.url, method="POST", body=json.dumps(body), request_timeout=30,
                           headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})


class ActivityReporter:
    def __init__(self, settings: MutableMapping, kernel_manager, hub: HubTarget | None, interval: float,
                 terminal_manager=None, http: AsyncHTTPClient | None = None):
        self.settings, self.kernel_manager, self.terminal_manager = settings, kernel_manager, terminal_manager
        self.hub, self.interval = hub, interval
        self.http = http
        self.last_interaction: float | None = None
        self.last_busy: float | None = None
        self.last_reported: float | None = None
        self.callback: PeriodicCallback | None = None
        self._in_flight = False
        self._again = False

    @classmethod
    def for_server(cls, serverapp, interval: float) -> ActivityReporter:
        hub = HubTarget.from_env(os.environ)
        if hub is None:
            serverapp.log.info("labhub-lab: not started by a hub, activity is not reported")
        settings = serverapp.web_app.settings
        return cls(settings, serverapp.kernel_manager, hub, interval)

    # --- what the frontend reports ---

    def record_interaction(self, source: str, urgent: bool = False) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown interaction source {source!r}; one of {', '.join(sorted(SOURCES))}")
        self.last_interaction = time.time()
        if urgent:  # the "still there?" button: the hub must know before the next round stops the server
            IOLoop.current().add_callback(self.report_now)

    # --- the periodic check ---

    async def figures(self) -> Figures:
        kernels = await ensure_async(self.kernel_manager.list_kernels())
        if any(k.get("execution_state") == "busy" for k in kernels):
            self.last_busy = time.time()
            self.settings[BUSY_SETTING] = datetime.now(UTC)
        terminals = []
        # Looked up each time: jupyter_server_terminals may load after this extension.
        manager = self.terminal_manager or self.settings.get("terminal_manager")
        if manager is not None:
            try:
                terminals = list(manager.list())
            except Exception:  # terminals are an optional extension; their absence is no error
                log.debug("labhub-lab: cannot list terminals", exc_info=True)
        return figures_from(self.settings, kernels, terminals, self.last_interaction, self.last_busy)

    async def activity(self) -> float:
        return server_activity(await self.figures())

    async def report_now(self) -> None:
        """Report the current activity if it moved; one request in flight, a later call repeats it."""
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        try:
            while True:
                self._again = False
                await self._report(await self.activity())
                if not self._again:
                    break
        finally:
            self._in_flight = False

    async def _report(self, when: float) -> None:
        if self.hub is None or (self.last_reported is not None and when <= self.last_reported):
            return
        try:
            await (self.http or AsyncHTTPClient()).fetch(self.hub.request(when))
        except Exception as e:  # the hub may be restarting: try again next time, never crash the server
            log.warning("labhub-lab: cannot report activity to the hub: %s", e)
            return
        self.last_reported = when

    async def tick(self) -> None:
        try:
            await self.report_now()
        except Exception:
            log.exception("labhub-lab: activity check failed")

    def start(self) -> None:
        self.callback = PeriodicCallback(self.tick, self.interval * 1000)
        self.callback.start()
        IOLoop.current().add_callback(self.tick)

    def status(self) -> dict:
        return {"last_interaction": self.last_interaction, "last_reported": self.last_reported,
                "interval": self.interval}
