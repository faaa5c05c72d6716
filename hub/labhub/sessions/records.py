"""Every stop of a user server, with its reason, kept in SQLite in the hub's state folder.

Written by the sessions service (idle, max_age, gpu_idle) and by the spawner (user, admin); read by the
metrics exporter and the admin page.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

REASONS = ("idle", "max_age", "gpu_idle", "admin", "user", "error")
DB_NAME = "sessions.sqlite"


@dataclass(frozen=True)
class StopRecord:
    user: str
    server: str
    profile: str
    reason: str
    at: float
    detail: str = ""


class StopRecords:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / DB_NAME
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS stops (user TEXT NOT NULL, server TEXT NOT NULL, profile TEXT NOT NULL,"
                " reason TEXT NOT NULL, at REAL NOT NULL, detail TEXT NOT NULL DEFAULT '')"
            )
            db.execute("CREATE INDEX IF NOT EXISTS stops_at ON stops (at)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def add(self, user: str, server: str, profile: str, reason: str, detail: str = "", at: float | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown stop reason {reason!r}; one of {', '.join(REASONS)}")
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO stops (user, server, profile, reason, at, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (user, server, profile, reason, time.time() if at is None else at, detail),
            )

    def counts(self) -> dict[tuple[str, str], int]:
        """Stops so far by (profile, reason): the source of the labhub_server_stops_total counter."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT profile, reason, COUNT(*) FROM stops GROUP BY profile, reason").fetchall()
        return {(profile, reason): n for profile, reason, n in rows}

    def recent(self, limit: int = 50) -> list[StopRecord]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT user, server, profile, reason, at, detail FROM stops ORDER BY at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [StopRecord(*row) for row in rows]
