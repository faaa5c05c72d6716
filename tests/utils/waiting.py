"""Waiting for a condition with a deadline: the one way the tests wait (never a fixed sleep followed by
an assertion). Deadlines are generous, for a loaded 2-core machine; a fast machine never waits for them."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float, what: str, interval: float = 0.5):
    """`condition()`'s first truthy value; AssertionError naming `what` once `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def holds_for(condition, seconds: float, what: str, interval: float = 1.0) -> None:
    """`condition()` is true all through the period, not only at its end (AssertionError naming `what`)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert condition(), what
        time.sleep(interval)
