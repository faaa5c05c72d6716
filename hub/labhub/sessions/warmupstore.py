"""Scheduled warm-ups in the sessions database (tables `warmups` and `warmed`, schema in records.py).

A warm-up goes scheduled -> started (its starts were requested) -> done (its end, time + grace, passed),
or cancelled. Each server it started has a row in `warmed`, keyed by the hub's `started` time of that
server, so a later start of the same server is no warm-up's: outcome starting -> ready, or failed /
skipped (already running) / stopped.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass

from .store import SessionsDB
from .warmup import WarmupRequest

OPEN = ("scheduled", "started")


@dataclass(frozen=True)
class Warmup:
    id: int
    group: str
    profile: str
    at: float
    grace: int
    created_by: str
    created_at: float
    state: str
    started_at: float | None

    @property
    def until(self) -> float:
        return self.at + self.grace


@dataclass(frozen=True)
class Warmed:
    warmup: int
    user: str
    server: str
    started: str | None  # the hub's `started` of the server this warm-up started
    ready_at: float | None
    outcome: str


_COLUMNS = "id, grp, profile, at, grace, created_by, created_at, state, started_at"


class WarmupStore:
    def __init__(self, db: SessionsDB):
        self.path = db.path  # SessionsDB brought the schema up to date

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def add(self, request: WarmupRequest, created_by: str) -> Warmup:
        with closing(self._connect()) as db, db:
            cursor = db.execute("INSERT INTO warmups (grp, profile, at, grace, created_by, created_at) "
                                "VALUES (?, ?, ?, ?, ?, ?)", (request.group, request.profile, request.at,
                                                              request.grace, created_by, time.time()))
            return self._get(db, cursor.lastrowid)

    @staticmethod
    def _get(db, warmup_id: int) -> Warmup | None:
        row = db.execute(f"SELECT {_COLUMNS} FROM warmups WHERE id = ?", (warmup_id,)).fetchone()
        return Warmup(*row) if row else None

    def get(self, warmup_id: int) -> Warmup | None:
        with closing(self._connect()) as db:
            return self._get(db, warmup_id)

    def listed(self, since: float) -> list[Warmup]:
        """Open warm-ups, and the others whose end is after `since`; soonest first."""
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM warmups WHERE state IN (?, ?) OR at + grace > ? "
                              "ORDER BY at, id", (*OPEN, since)).fetchall()
        return [Warmup(*row) for row in rows]

    def set_state(self, warmup_id: int, state: str, only_from: tuple[str, ...] = OPEN) -> bool:
        """False when the warm-up was no longer in one of `only_from` (e.g. cancelled meanwhile)."""
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                f"UPDATE warmups SET state = ?, started_at = CASE WHEN ? = 'started' THEN ? ELSE started_at END "
                f"WHERE id = ? AND state IN ({', '.join('?' * len(only_from))})",
                (state, state, time.time(), warmup_id, *only_from))
            return cursor.rowcount == 1

    # --- the servers a warm-up started ---

    def add_server(self, warmup_id: int, user: str, server: str, outcome: str, started: str | None = None) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO warmed (warmup, user, server, started, outcome) VALUES (?, ?, ?, ?, ?)",
                       (warmup_id, user, server, started, outcome))

    def servers(self, warmup_id: int) -> list[Warmed]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT warmup, user, server, started, ready_at, outcome FROM warmed WHERE warmup = ? "
                              "ORDER BY user", (warmup_id,)).fetchall()
        return [Warmed(*row) for row in rows]

    def update_server(self, warmup_id: int, user: str, server: str, **values) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        with closing(self._connect()) as db, db:
            db.execute(f"UPDATE warmed SET {columns} WHERE warmup = ? AND user = ? AND server = ?",
                       (*values.values(), warmup_id, user, server))

    def exemption(self, user: str, server: str, started: str | None) -> tuple[Warmup, Warmed] | None:
        """The warm-up that started this very server (same hub `started`), unless it was cancelled.

        A done warm-up still counts: its unused servers are stopped as `warmup_unused` after its end."""
        with closing(self._connect()) as db:
            row = db.execute(
                f"SELECT w.warmup, w.user, w.server, w.started, w.ready_at, w.outcome, "
                f"{', '.join('u.' + c for c in _COLUMNS.split(', '))} FROM warmed w JOIN warmups u ON u.id = w.warmup "
                "WHERE w.user = ? AND w.server = ? AND w.started = ? AND w.outcome IN ('starting', 'ready') "
                "AND u.state IN ('started', 'done') ORDER BY u.at DESC LIMIT 1", (user, server, started)).fetchone()
        return (Warmup(*row[6:]), Warmed(*row[:6])) if row else None


def as_json(warmup: Warmup, servers: list[Warmed] = ()) -> dict:
    counts: dict[str, int] = {}
    for s in servers:
        counts[s.outcome] = counts.get(s.outcome, 0) + 1
    return {**asdict(warmup), "until": warmup.until, "servers": counts,
            "ready_by": [{"user": s.user, "ready_at": s.ready_at} for s in servers if s.ready_at is not None]}
