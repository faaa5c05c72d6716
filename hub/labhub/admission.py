"""Admission control: a class pressing Start at 9:00 waits in line instead of failing.

Container starts (docker create/start and until the server answers HTTP) run at most `concurrency`
at a time, first come first served. Waiting spawns learn their position and an estimate, computed from
the measured duration of recent starts.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Ticket:
    name: str
    enqueued_at: float = field(default_factory=time.monotonic)
    admitted: asyncio.Event = field(default_factory=asyncio.Event)


class Admission:
    def __init__(self, concurrency: int, initial_estimate_s: float = 10.0):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self._running = 0
        self._waiting: deque[Ticket] = deque()
        self._recent: deque[float] = deque([initial_estimate_s], maxlen=20)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        return self._running

    @property
    def oldest_wait_s(self) -> float:
        """Seconds the first spawn in line has waited so far (0 when nobody waits): for monitoring."""
        return time.monotonic() - self._waiting[0].enqueued_at if self._waiting else 0.0

    def position(self, ticket: Ticket) -> int:
        """1-based place in line; 0 once admitted."""
        try:
            return self._waiting.index(ticket) + 1
        except ValueError:
            return 0

    def estimate_s(self, position: int) -> float:
        """Seconds until a spawn at `position` starts, from recent start durations."""
        per_start = sorted(self._recent)[len(self._recent) // 2]
        return per_start * position / self.concurrency

    def _admit_next(self) -> None:
        while self._waiting and self._running < self.concurrency:
            ticket = self._waiting.popleft()
            self._running += 1
            ticket.admitted.set()

    def enqueue(self, name: str) -> Ticket:
        ticket = Ticket(name)
        self._waiting.append(ticket)
        self._admit_next()
        return ticket

    def cancel(self, ticket: Ticket) -> None:
        if ticket in self._waiting:
            self._waiting.remove(ticket)
        elif ticket.admitted.is_set():
            self._running -= 1
            self._admit_next()

    def done(self, ticket: Ticket, duration_s: float | None) -> None:
        if duration_s is not None:
            self._recent.append(duration_s)
        self._running -= 1
        self._admit_next()

    @asynccontextmanager
    async def slot(self, ticket: Ticket):
        """Wait for `ticket`'s turn, then hold a start slot for the body's duration."""
        try:
            await ticket.admitted.wait()
        except BaseException:
            self.cancel(ticket)
            raise
        started = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            self.done(ticket, time.monotonic() - started if ok else None)
