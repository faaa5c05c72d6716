"""A service's log lines in JupyterHub's own format and at the hub's level (hub.log_level), so that
`make logs` reads as one log: `[I 2026-12-04 08:55:01.123 sessions warmups:141] …`."""

from __future__ import annotations

import logging

from jupyterhub.log import CoroutineLogFormatter

# JupyterHub's default log_format and log_datefmt (JupyterHub.log_format).
FORMAT = "%(color)s[%(levelname)1.1s %(asctime)s.%(msecs).03d %(service)s %(module)s:%(lineno)d]%(end_color)s %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S"


class _ServiceName(logging.Filter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


def setup_logging(service: str, level: str = "INFO") -> logging.Logger:
    """Root logging to stderr (the hub keeps a managed service's output in its own log)."""
    handler = logging.StreamHandler()
    handler.setFormatter(CoroutineLogFormatter(fmt=FORMAT, datefmt=DATEFMT))
    handler.addFilter(_ServiceName(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return logging.getLogger(f"labhub.{service}")
