"""GPU leases, the GPU queue, usage records and quota overrides, in SQLite in the hub's state folder.

Every change runs under one lock and in one write transaction (BEGIN IMMEDIATE), so the hub, the
gpu service and the CLI can all change leases without ever booking a unit twice; a trigger in the
database refuses an over-booked unit as a last line of defence. A release grants waiting requests in
the same transaction, so a freed GPU goes to the next in line at once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..service.schema import Migrations, run_script, upgrade_sqlite
from .policy import Demand, Waiter, can_ever_fit, grant_pass, serve_order
from .quota import QuotaRefusal, QuotaRules, UsageRecord, check_quota, hours_used

log = logging.getLogger("labhub.gpu")

DB_NAME = "gpu.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL, server TEXT NOT NULL, profile TEXT NOT NULL,
    mode TEXT NOT NULL, per_unit REAL NOT NULL, memory_limit INTEGER,
    container TEXT NOT NULL, groups TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'active')),
    granted_at REAL NOT NULL, waited_s REAL NOT NULL DEFAULT 0,
    waiter_id INTEGER, usage_id INTEGER NOT NULL,
    UNIQUE (user, server)
);
CREATE TABLE IF NOT EXISTS lease_units (
    unit TEXT NOT NULL,
    lease_id INTEGER NOT NULL REFERENCES leases (id) ON DELETE CASCADE,
    share REAL NOT NULL CHECK (share > 0 AND share <= 1),
    PRIMARY KEY (unit, lease_id)
);
CREATE TRIGGER IF NOT EXISTS lease_units_capacity BEFORE INSERT ON lease_units
WHEN (SELECT COALESCE(SUM(share), 0) FROM lease_units WHERE unit = NEW.unit) + NEW.share > 1.000001
BEGIN SELECT RAISE(ABORT, 'GPU unit over-booked'); END;
CREATE TABLE IF NOT EXISTS waiters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL, server TEXT NOT NULL, profile TEXT NOT NULL,
    mode TEXT NOT NULL, count INTEGER NOT NULL, users_per_gpu INTEGER NOT NULL, memory_limit INTEGER,
    container TEXT NOT NULL, groups TEXT NOT NULL, enqueued_at REAL NOT NULL,
    UNIQUE (user, server)
);
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL, groups TEXT NOT NULL, profile TEXT NOT NULL,
    rate REAL NOT NULL, start REAL NOT NULL, end REAL
);
CREATE INDEX IF NOT EXISTS usage_end ON usage (end);
CREATE TABLE IF NOT EXISTS quotas (
    kind TEXT NOT NULL CHECK (kind IN ('user', 'group')), name TEXT NOT NULL, hours REAL NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


# Version 1 is _SCHEMA as stop 19 (e04e527) made it; a change to it is a new Step here.
MIGRATIONS = Migrations("gpu", marker_table="leases", create=lambda db: run_script(db, _SCHEMA))


@dataclass(frozen=True)
class Lease:
    id: int
    user: str
    server: str
    profile: str
    mode: str
    units: tuple[str, ...]
    per_unit: float
    memory_limit: int | None
    container: str
    groups: tuple[str, ...]
    state: str
    granted_at: float
    waited_s: float = 0.0
    waiter_id: int | None = None

    @property
    def rate(self) -> float:
        return self.per_unit * len(self.units)


@dataclass(frozen=True)
class Queued:
    waiter_id: int
    position: int  # 1-based, in serve order
    waiting: int  # requests in the queue


@dataclass(frozen=True)
class Refused:
    message: str
    quota: QuotaRefusal | None = None


@dataclass(frozen=True)
class QueueEntry:
    waiter_id: int
    position: int
    user: str
    server: str
    profile: str
    demand: Demand
    enqueued_at: float
    hours_used: float


@dataclass
class StorePolicy:
    """What the store allocates and by which rules (from the inventory and the gpu settings)."""

    units: Sequence[str] = ()
    rules: QuotaRules = field(default_factory=QuotaRules)
    fair_share_hours: float = 10.0
    backfill_for: float = 600.0


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


class LeaseStore:
    def __init__(self, state_dir: Path | str, policy: StorePolicy | None = None,
                 clock: Callable[[], float] = time.time, path: Path | str | None = None):
        self.path = str(path if path is not None else Path(state_dir) / DB_NAME)
        self.policy = policy or StorePolicy()
        self.clock = clock
        self._lock = _lock_for(self.path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._lock, closing(self._connect()) as db:
            upgrade_sqlite(db, MIGRATIONS)

    # --- plumbing -------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a crash of any process; only a power cut may lose the last ones.
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialised across threads (lock) and processes (IMMEDIATE)."""
        with self._lock, closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as db:
            yield db

    # --- requests and the queue -----------------------------------------------------------------

    def request(self, user: str, server: str, profile: str, demand: Demand, *, container: str,
                groups: Sequence[str] = (), profile_hours: float | None = None,
                memory_limit: int | None = None) -> Lease | Queued | Refused:
        """A lease now, a place in the GPU queue, or a refusal (quota, or a request no inventory can hold).

        Asking again for the same user and server returns the lease or place it already has.
        """
        with self._write() as db:
            now = self.clock()  # inside the lock: FIFO follows the order of the writes
            lease = self._lease_where(db, "user = ? AND server = ?", (user, server))
            if lease is not None:
                return lease
            row = db.execute("SELECT id FROM waiters WHERE user = ? AND server = ?", (user, server)).fetchone()
            if row is not None:
                return self._queued(db, row["id"], now)
            if not can_ever_fit(demand, self.policy.units):
                have = len(self.policy.units)
                return Refused(f"This runtime needs {demand.describe()}, but this server has "
                               f"{have} GPU unit{'s' if have != 1 else ''}. Pick another runtime, or ask an admin.")
            refusal = check_quota(user, groups, profile_hours, self._records(db, now), self._quotas(db),
                                  self.policy.rules, now)
            if refusal is not None:
                return Refused(refusal.message, refusal)
            cur = db.execute(
                "INSERT INTO waiters (user, server, profile, mode, count, users_per_gpu, memory_limit, container,"
                " groups, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user, server, profile, demand.mode, demand.count, demand.users_per_gpu, memory_limit, container,
                 json.dumps(sorted(groups)), now),
            )
            waiter_id = cur.lastrowid
            self._grant_waiting(db, now)
            lease = self._lease_where(db, "waiter_id = ?", (waiter_id,))
            return lease if lease is not None else self._queued(db, waiter_id, now)

    def status(self, waiter_id: int) -> Lease | Queued | None:
        """Where a queued request stands: its lease once granted, its place, or None when it is gone."""
        now = self.clock()
        with self._read() as db:
            lease = self._lease_where(db, "waiter_id = ?", (waiter_id,))
            if lease is not None:
                return lease
            if db.execute("SELECT 1 FROM waiters WHERE id = ?", (waiter_id,)).fetchone() is None:
                return None
            return self._queued(db, waiter_id, now)

    def cancel(self, waiter_id: int) -> None:
        """The spawn gave up: leave the queue, and give back a lease granted meanwhile but never used."""
        with self._write() as db:
            now = self.clock()  # inside the lock: FIFO follows the order of the writes
            db.execute("DELETE FROM waiters WHERE id = ?", (waiter_id,))
            lease = self._lease_where(db, "waiter_id = ? AND state = 'pending'", (waiter_id,))
            if lease is not None:
                self._release(db, lease, now, "spawn cancelled")
            self._grant_waiting(db, now)

    def queue(self) -> list[QueueEntry]:
        now = self.clock()
        with self._read() as db:
            return self._queue(db, now)

    def clear_waiters(self) -> int:
        """Forget the queue (a restarted hub has no spawns waiting any more)."""
        with self._write() as db:
            return db.execute("DELETE FROM waiters").rowcount

    # --- leases ---------------------------------------------------------------------------------

    def activate(self, lease_id: int) -> None:
        """The container holding the lease runs."""
        with self._write() as db:
            db.execute("UPDATE leases SET state = 'active' WHERE id = ?", (lease_id,))

    def release(self, lease_id: int | None = None, *, user: str | None = None, server: str | None = None,
                reason: str = "stopped", ended_at: float | None = None, only_state: str | None = None) -> Lease | None:
        """Free a lease (by id, or by user and server), close its usage record and serve the queue."""
        with self._write() as db:
            now = self.clock()  # inside the lock: FIFO follows the order of the writes
            if lease_id is not None:
                lease = self._lease_where(db, "id = ?", (lease_id,))
            else:
                lease = self._lease_where(db, "user = ? AND server = ?", (user, server or ""))
            if lease is None or (only_state and lease.state != only_state):
                return None
            self._release(db, lease, now if ended_at is None else min(ended_at, now), reason)
            self._grant_waiting(db, now)
            return lease

    def lease_for(self, user: str, server: str = "") -> Lease | None:
        with self._read() as db:
            return self._lease_where(db, "user = ? AND server = ?", (user, server))

    def leases(self) -> list[Lease]:
        with self._read() as db:
            return self._leases_where(db, "1", ())

    def load(self) -> dict[str, float]:
        """Share in use per unit (1.0 = fully leased)."""
        with self._read() as db:
            return self._load(db)

    def reconcile(self, containers: Mapping[str, float | None], pending_grace: float) -> list[Lease]:
        """Reclaim leases whose container is gone or stopped.

        `containers` maps container names to None (running) or the time they stopped. Pending leases
        (a spawn between lease and container start) are left alone for `pending_grace` seconds; a
        pending lease whose container runs is marked active.
        """
        reclaimed = []
        with self._write() as db:
            now = self.clock()  # inside the lock: FIFO follows the order of the writes
            for lease in self._leases_where(db, "1", ()):
                present = lease.container in containers
                stopped_at = containers.get(lease.container)
                running = present and stopped_at is None
                if running:
                    if lease.state == "pending":
                        db.execute("UPDATE leases SET state = 'active' WHERE id = ?", (lease.id,))
                    continue
                if lease.state == "pending" and now - lease.granted_at < pending_grace:
                    continue
                ended = max(lease.granted_at, min(stopped_at, now)) if stopped_at else now
                self._release(db, lease, ended, "container gone" if not present else "container stopped")
                reclaimed.append(lease)
            if reclaimed:
                self._grant_waiting(db, now)
        return reclaimed

    # --- usage and quotas -----------------------------------------------------------------------

    def usage(self, since: float | None = None) -> list[UsageRecord]:
        now = self.clock()
        with self._read() as db:
            return self._records(db, now, since)

    def hours_used(self, user: str | None = None, group: str | None = None) -> float:
        now = self.clock()
        since = self.policy.rules.week_start(now)
        return hours_used(self.usage(since), since, now, user=user, group=group)

    def set_quota(self, kind: str, name: str, hours: float | None) -> None:
        """An admin's weekly GPU-hours for a user or group (None: back to the settings and profiles)."""
        if kind not in ("user", "group"):
            raise ValueError("kind must be 'user' or 'group'")
        if hours is not None and hours < 0:
            raise ValueError("hours cannot be negative")
        with self._write() as db:
            if hours is None:
                db.execute("DELETE FROM quotas WHERE kind = ? AND name = ?", (kind, name))
            else:
                db.execute("INSERT INTO quotas (kind, name, hours) VALUES (?, ?, ?) ON CONFLICT (kind, name)"
                           " DO UPDATE SET hours = excluded.hours", (kind, name, hours))

    def quotas(self) -> dict[tuple[str, str], float]:
        with self._read() as db:
            return self._quotas(db)

    def check_quota(self, user: str, groups: Sequence[str], profile_hours: float | None) -> QuotaRefusal | None:
        now = self.clock()
        with self._read() as db:
            return check_quota(user, groups, profile_hours, self._records(db, now), self._quotas(db),
                               self.policy.rules, now)

    # --- inside a transaction -------------------------------------------------------------------

    def _lease_where(self, db, where: str, args: tuple) -> Lease | None:
        found = self._leases_where(db, where, args)
        return found[0] if found else None

    def _leases_where(self, db, where: str, args: tuple) -> list[Lease]:
        rows = db.execute(f"SELECT * FROM leases WHERE {where} ORDER BY id", args).fetchall()
        leases = []
        for r in rows:
            units = tuple(u["unit"] for u in db.execute(
                "SELECT unit FROM lease_units WHERE lease_id = ? ORDER BY rowid", (r["id"],)))
            leases.append(Lease(r["id"], r["user"], r["server"], r["profile"], r["mode"], units, r["per_unit"],
                                r["memory_limit"], r["container"], tuple(json.loads(r["groups"])), r["state"],
                                r["granted_at"], r["waited_s"], r["waiter_id"]))
        return leases

    def _load(self, db) -> dict[str, float]:
        return {r["unit"]: r["total"] for r in db.execute(
            "SELECT unit, SUM(share) AS total FROM lease_units GROUP BY unit")}

    def _records(self, db, now: float, since: float | None = None) -> list[UsageRecord]:
        since = self.policy.rules.week_start(now) if since is None else since
        rows = db.execute("SELECT user, groups, rate, start, end FROM usage WHERE end IS NULL OR end > ?", (since,))
        return [UsageRecord(r["user"], tuple(json.loads(r["groups"])), r["rate"], r["start"], r["end"]) for r in rows]

    def _quotas(self, db) -> dict[tuple[str, str], float]:
        return {(r["kind"], r["name"]): r["hours"] for r in db.execute("SELECT kind, name, hours FROM quotas")}

    def _queue(self, db, now: float) -> list[QueueEntry]:
        rows = db.execute("SELECT * FROM waiters").fetchall()
        if not rows:
            return []
        records = self._records(db, now)
        since = self.policy.rules.week_start(now)
        by_id = {r["id"]: r for r in rows}
        waiters = [Waiter(r["id"], r["user"], Demand(r["mode"], r["count"], r["users_per_gpu"]), r["enqueued_at"],
                          hours_used(records, since, now, user=r["user"])) for r in rows]
        ordered = serve_order(waiters, self.policy.fair_share_hours)
        return [QueueEntry(w.id, i + 1, w.user, by_id[w.id]["server"], by_id[w.id]["profile"], w.demand,
                           w.enqueued_at, w.hours_used) for i, w in enumerate(ordered)]

    def _queued(self, db, waiter_id: int, now: float) -> Queued:
        queue = self._queue(db, now)
        position = next((e.position for e in queue if e.waiter_id == waiter_id), 0)
        return Queued(waiter_id, position, len(queue))

    def _grant_waiting(self, db, now: float) -> None:
        queue = self._queue(db, now)
        if not queue:
            return
        waiters = [Waiter(e.waiter_id, e.user, e.demand, e.enqueued_at, e.hours_used) for e in queue]
        for waiter, units in grant_pass(waiters, self.policy.units, self._load(db), now, self.policy.backfill_for):
            row = db.execute("SELECT * FROM waiters WHERE id = ?", (waiter.id,)).fetchone()
            db.execute("DELETE FROM waiters WHERE id = ?", (waiter.id,))
            self._insert_lease(db, row, waiter.demand, units, now)

    def _insert_lease(self, db, row, demand: Demand, units: list[str], now: float) -> None:
        usage = db.execute("INSERT INTO usage (user, groups, profile, rate, start) VALUES (?, ?, ?, ?, ?)",
                           (row["user"], row["groups"], row["profile"], demand.rate, now))
        cur = db.execute(
            "INSERT INTO leases (user, server, profile, mode, per_unit, memory_limit, container, groups, state,"
            " granted_at, waited_s, waiter_id, usage_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
            (row["user"], row["server"], row["profile"], demand.mode, demand.per_unit, row["memory_limit"],
             row["container"], row["groups"], now, now - row["enqueued_at"], row["id"], usage.lastrowid),
        )
        for unit in units:
            db.execute("INSERT INTO lease_units (unit, lease_id, share) VALUES (?, ?, ?)",
                       (unit, cur.lastrowid, demand.per_unit))
        log.info("GPU lease %d: %s%s gets %s (%s)", cur.lastrowid, row["user"],
                 f"/{row['server']}" if row["server"] else "", ", ".join(units), demand.describe())

    def _release(self, db, lease: Lease, ended_at: float, reason: str) -> None:
        usage_id = db.execute("SELECT usage_id FROM leases WHERE id = ?", (lease.id,)).fetchone()["usage_id"]
        db.execute("UPDATE usage SET end = ? WHERE id = ? AND end IS NULL", (max(ended_at, lease.granted_at), usage_id))
        db.execute("DELETE FROM leases WHERE id = ?", (lease.id,))
        log.info("GPU lease %d of %s%s released (%s): %s", lease.id, lease.user,
                 f"/{lease.server}" if lease.server else "", reason, ", ".join(lease.units))
