"""Schema versions and migrations for labhub's stores, the way alembic does it for JupyterHub.

Each store declares `Migrations`: the script that creates its current schema, and the steps that
take an older database there, numbered from 1. Version 1 is the schema of the first release with
versions (stop 19, e04e527), whose databases carry no version yet. The version lives in a table
`labhub_schema` of the same database, a row per store (one PostgreSQL database may hold several).
On open:
- a new database gets the current schema and the latest version;
- a database from before versions (its marker table exists, no row) is adopted as version 1;
- then every step above the database's version runs, with the version bump, in one transaction;
- a database newer than the code is refused with a message saying what to do: never guessed at.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

TABLE = "labhub_schema"
_CREATE_TABLE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (store VARCHAR(64) PRIMARY KEY, "
                 "version INTEGER NOT NULL, upgraded_at FLOAT NOT NULL)")


class SchemaError(RuntimeError):
    """A store's database cannot be used by this labhub (too new, or the steps are inconsistent)."""


@dataclass(frozen=True)
class Step:
    version: int  # the version the database has after this step
    summary: str
    apply: Callable  # gets the open connection, inside the upgrade's transaction


@dataclass(frozen=True)
class Migrations:
    store: str  # its row in labhub_schema, e.g. "sessions"
    marker_table: str  # a table every version has: its presence means the database exists already
    create: Callable  # creates the current schema on a new database
    steps: Sequence[Step] = field(default=())

    @property
    def latest(self) -> int:
        return self.steps[-1].version if self.steps else 1

    def __post_init__(self):
        numbers = [s.version for s in self.steps]
        if numbers != list(range(2, 2 + len(numbers))):
            raise SchemaError(f"{self.store}: migration steps must be numbered 2, 3, ... in order, not {numbers}")


def plan(migrations: Migrations, current: int | None, exists: bool) -> tuple[str, list[Step]]:
    """What opening the database does: ("create" | "adopt" | "upgrade", the steps to run).

    `current`: the database's version (None: no row); `exists`: its marker table is there.
    """
    if current is None:
        return ("adopt", list(migrations.steps)) if exists else ("create", [])
    if current > migrations.latest:
        raise SchemaError(
            f"the {migrations.store} database has schema version {current}, newer than this labhub knows "
            f"({migrations.latest}): it was written by a newer labhub. Run that release, or restore a backup "
            "made with this one (labhub restore)."
        )
    return "upgrade", [s for s in migrations.steps if s.version > current]


def _bring_up(db, migrations: Migrations, current: int | None, exists: bool) -> int:
    """Inside the caller's transaction: create, adopt or upgrade, as `plan` says; the version reached."""
    action, steps = plan(migrations, current, exists)
    if action == "create":
        migrations.create(db)
    for step in steps:
        step.apply(db)
    return migrations.latest  # every path above ends there


def script_step(version: int, summary: str, sql: str) -> Step:
    """A step made of SQL statements (for the sqlite3 stores)."""
    return Step(version, summary, lambda db: run_script(db, sql))


def run_script(db: sqlite3.Connection, sql: str) -> None:
    """Runs each statement of `sql` inside the open transaction (executescript would commit first)."""
    statement = ""
    for line in sql.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise SchemaError(f"incomplete SQL statement: {statement.strip()[:80]}")


def upgrade_sqlite(db: sqlite3.Connection, migrations: Migrations) -> int:
    """Brings a sqlite3 database to the latest version; returns it. Safe when several processes open
    the same file at once: BEGIN IMMEDIATE lets one decide and write while the others wait."""
    if _sqlite_version(db, migrations.store) == migrations.latest:
        return migrations.latest  # the usual open: no write, no lock
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_CREATE_TABLE)
        exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (migrations.marker_table,)).fetchone() is not None
        version = _bring_up(db, migrations, _sqlite_version(db, migrations.store), exists)
        db.execute(f"INSERT INTO {TABLE} (store, version, upgraded_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (store) DO UPDATE SET version = excluded.version, upgraded_at = excluded.upgraded_at",
                   (migrations.store, version, time.time()))
        db.execute("COMMIT")
        return version
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _sqlite_version(db: sqlite3.Connection, store: str) -> int | None:
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone() is None:
        return None
    row = db.execute(f"SELECT version FROM {TABLE} WHERE store = ?", (store,)).fetchone()
    return row[0] if row else None


def upgrade_sqlalchemy(engine, migrations: Migrations) -> int:
    """The same for a SQLAlchemy engine (SQLite or PostgreSQL); `create` and the steps get a Connection."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(5):
        try:
            with engine.begin() as db:
                db.execute(text(_CREATE_TABLE))
                if db.dialect.name == "postgresql":
                    db.execute(text(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE"))
                row = db.execute(text(f"SELECT version FROM {TABLE} WHERE store = :s"),
                                 {"s": migrations.store}).first()
                exists = inspect(db).has_table(migrations.marker_table)
                version = _bring_up(db, migrations, row[0] if row else None, exists)
                values = {"s": migrations.store, "v": version, "t": time.time()}
                if row is None:
                    db.execute(text(f"INSERT INTO {TABLE} (store, version, upgraded_at) VALUES (:s, :v, :t)"), values)
                else:
                    db.execute(text(f"UPDATE {TABLE} SET version = :v, upgraded_at = :t WHERE store = :s"), values)
            return version
        except (IntegrityError, OperationalError):
            # Another process created the row (or held SQLite's lock) first: look again.
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
