"""What the sessions service keeps in SQLite in the hub's state folder, shared with the hub process:

- stops: every stop of a user server with its reason (written when the spawner stops a server; read by
  the metrics exporter and the admin page);
- pending: the reason the sessions service or an admin gave just before asking the hub for a stop;
- warnings: the stop each server is heading for, shown to its user;
- extensions: max-age time an admin added to a server;
- warmups, warmed: scheduled warm-ups and the servers each started (labhub.sessions.warmupstore).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ..service.schema import Migrations, run_script, script_step, upgrade_sqlite

REASONS = ("idle", "max_age", "gpu_idle", "warmup_unused", "admin", "user", "error")
DB_NAME = "sessions.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stops (user TEXT NOT NULL, server TEXT NOT NULL, profile TEXT NOT NULL,
    reason TEXT NOT NULL, at REAL NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS stops_at ON stops (at);
CREATE TABLE IF NOT EXISTS pending (user TEXT, server TEXT, reason TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '', PRIMARY KEY (user, server));
CREATE TABLE IF NOT EXISTS warnings (user TEXT, server TEXT, reason TEXT NOT NULL,
    stop_at REAL NOT NULL, PRIMARY KEY (user, server));
CREATE TABLE IF NOT EXISTS extensions (user TEXT, server TEXT, seconds INTEGER NOT NULL,
    PRIMARY KEY (user, server));
"""
_WARMUPS = """
CREATE TABLE IF NOT EXISTS warmups (id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, profile TEXT NOT NULL,
    at REAL NOT NULL, grace INTEGER NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'scheduled', started_at REAL);
CREATE TABLE IF NOT EXISTS warmed (warmup INTEGER NOT NULL, user TEXT NOT NULL, server TEXT NOT NULL,
    started TEXT, ready_at REAL, outcome TEXT NOT NULL DEFAULT 'starting', PRIMARY KEY (warmup, user, server));
"""
# Version 1 is _SCHEMA as stop 19 (e04e527) made it; a change to it is a new Step here.
MIGRATIONS = Migrations("sessions", marker_table="stops", create=lambda db: run_script(db, _SCHEMA + _WARMUPS),
                        steps=[script_step(2, "scheduled warm-ups", _WARMUPS)])


@dataclass(frozen=True)
class StopRecord:
    user: str
    server: str
    profile: str
    reason: str
    at: float
    detail: str = ""


@dataclass(frozen=True)
class Warning:
    user: str
    server: str
    reason: str
    stop_at: float


class SessionsDB:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / DB_NAME
        with closing(self._connect()) as db:
            upgrade_sqlite(db, MIGRATIONS)

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

    # --- a stop's reason, given just before the stop is requested ---

    def expect_stop(self, user: str, server: str, reason: str, detail: str = "") -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO pending (user, server, reason, detail) VALUES (?, ?, ?, ?)",
                       (user, server, reason, detail))

    def take_expected(self, user: str, server: str) -> tuple[str, str] | None:
        with closing(self._connect()) as db, db:
            row = db.execute("SELECT reason, detail FROM pending WHERE user = ? AND server = ?", (user, server)).fetchone()
            db.execute("DELETE FROM pending WHERE user = ? AND server = ?", (user, server))
        return row

    # --- warnings shown to users ---

    def set_warning(self, user: str, server: str, reason: str, stop_at: float) -> None:
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR REPLACE INTO warnings (user, server, reason, stop_at) VALUES (?, ?, ?, ?)",
                       (user, server, reason, stop_at))

    def clear_warning(self, user: str, server: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM warnings WHERE user = ? AND server = ?", (user, server))

    def warnings_for(self, user: str) -> list[Warning]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT user, server, reason, stop_at FROM warnings WHERE user = ?", (user,)).fetchall()
        return [Warning(*row) for row in rows]

    # --- max-age extensions (admins only) ---

    def extend(self, user: str, server: str, seconds: int) -> int:
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO extensions (user, server, seconds) VALUES (?, ?, ?) ON CONFLICT (user, server)"
                       " DO UPDATE SET seconds = seconds + excluded.seconds", (user, server, seconds))
            return db.execute("SELECT seconds FROM extensions WHERE user = ? AND server = ?", (user, server)).fetchone()[0]

    def extension(self, user: str, server: str) -> int:
        with closing(self._connect()) as db:
            row = db.execute("SELECT seconds FROM extensions WHERE user = ? AND server = ?", (user, server)).fetchone()
        return row[0] if row else 0

    def server_gone(self, user: str, server: str) -> None:
        """A stopped server starts its next session with no warning and no extension."""
        with closing(self._connect()) as db, db:
            db.execute("DELETE FROM warnings WHERE user = ? AND server = ?", (user, server))
            db.execute("DELETE FROM extensions WHERE user = ? AND server = ?", (user, server))
            # Its next start is no warm-up's (labhub.sessions.warmupstore).
            db.execute("UPDATE warmed SET outcome = 'stopped' WHERE user = ? AND server = ? AND outcome IN "
                       "('starting', 'ready')", (user, server))

# The name the metrics exporter was written against.
StopRecords = SessionsDB
