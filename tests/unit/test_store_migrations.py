"""Every store has a schema version: databases made by the previous release (tests/data/stores-e04e527,
written by that release's code) are adopted and upgraded in place; a new database starts at the
latest version; a newer one is refused with what to do; steps run once, under concurrent opens too."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from labhub.gpu.store import MIGRATIONS as GPU
from labhub.gpu.store import LeaseStore, StorePolicy
from labhub.service.schema import Migrations, SchemaError, Step, plan, run_script, script_step, upgrade_sqlite
from labhub.sessions.store import MIGRATIONS as SESSIONS
from labhub.sessions.store import SessionsDB
from labhub.submissions.store import MIGRATIONS as SUBMISSIONS
from labhub.submissions.store import Store

OLD = Path(__file__).parents[1] / "data" / "stores-e04e527"


def version_of(path: Path, store: str) -> int | None:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT version FROM labhub_schema WHERE store = ?", (store,)).fetchone()
    return row[0] if row else None


@pytest.fixture
def old_state(tmp_path) -> Path:
    for name in ("sessions.sqlite", "gpu.sqlite", "submissions.sqlite"):
        shutil.copy(OLD / name, tmp_path / name)
        with sqlite3.connect(tmp_path / name) as db:  # the release had no versions
            assert db.execute("SELECT name FROM sqlite_master WHERE name = 'labhub_schema'").fetchone() is None
    return tmp_path


def test_the_previous_releases_sessions_database_keeps_every_row(old_state):
    db = SessionsDB(old_state)
    assert version_of(old_state / "sessions.sqlite", "sessions") == SESSIONS.latest
    assert [(r.user, r.server, r.reason, r.detail) for r in db.recent()] == [
        ("bob", "gpu", "gpu_idle", "GPU under 5 % for 30 min"), ("ann", "", "idle", "")]
    assert db.extension("bob", "gpu") == 3600
    assert [(w.user, w.reason) for w in db.warnings_for("ann")] == [("ann", "max_age")]
    db.add("cem", "", "cpu", "user")  # and it is writable
    assert db.counts()[("cpu", "user")] == 1


def test_the_previous_releases_gpu_database_keeps_leases_and_quotas(old_state):
    store = LeaseStore(old_state, StorePolicy())
    assert version_of(old_state / "gpu.sqlite", "gpu") == GPU.latest
    assert sorted((lease.user, lease.server) for lease in store.leases()) == [("ann", ""), ("bob", "gpu")]
    assert store.quotas() == {("group", "cs101"): 12.5}


def test_the_previous_releases_submissions_database_keeps_courses_submissions_and_grades(old_state):
    store = Store(f"sqlite:///{old_state / 'submissions.sqlite'}")
    assert version_of(old_state / "submissions.sqlite", "submissions") == SUBMISSIONS.latest
    assignment = store.assignment("cs101", "hw1")
    assert store.course("cs101")["title"] == "Deep learning 101" and assignment["title"] == "Perceptrons"
    (submission,) = store.submissions(assignment["pk"])
    assert (submission["student"], submission["version"], submission["size"]) == ("ann", 1, 1234)
    grading = store.latest_grading(submission["id"], done_only=True)
    assert (grading["score"], grading["max_score"], grading["outcome"]) == (8.0, 10.0, "graded")


def test_a_new_database_starts_at_the_latest_version(tmp_path):
    SessionsDB(tmp_path)
    LeaseStore(tmp_path, StorePolicy())
    Store(f"sqlite:///{tmp_path / 'submissions.sqlite'}")
    assert version_of(tmp_path / "sessions.sqlite", "sessions") == SESSIONS.latest
    assert version_of(tmp_path / "gpu.sqlite", "gpu") == GPU.latest
    assert version_of(tmp_path / "submissions.sqlite", "submissions") == SUBMISSIONS.latest


def test_a_database_from_a_newer_labhub_is_refused_with_what_to_do(old_state):
    SessionsDB(old_state)
    with sqlite3.connect(old_state / "sessions.sqlite") as db:
        db.execute("UPDATE labhub_schema SET version = 99 WHERE store = 'sessions'")
    with pytest.raises(SchemaError, match=r"sessions database has schema version 99, newer than this labhub "
                                          rf"knows \({SESSIONS.latest}\).*labhub restore"):
        SessionsDB(old_state)


# --- the mechanism, with a second version as the next change to a store will bring ---

def _create_v2(db):
    run_script(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, pinned INTEGER NOT NULL DEFAULT 0);")


def notes(*steps: Step) -> Migrations:
    return Migrations("notes", marker_table="notes", create=_create_v2, steps=steps)


ADD_PINNED = script_step(2, "notes can be pinned", "ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;")


def test_plan_covers_create_adopt_upgrade_and_too_new():
    m = notes(ADD_PINNED)
    assert plan(m, None, exists=False) == ("create", [])
    assert plan(m, None, exists=True) == ("adopt", [ADD_PINNED])
    assert plan(m, 1, exists=True) == ("upgrade", [ADD_PINNED])
    assert plan(m, 2, exists=True) == ("upgrade", [])
    with pytest.raises(SchemaError, match="version 3, newer than this labhub knows"):
        plan(m, 3, exists=True)


def test_steps_must_be_numbered_in_order():
    with pytest.raises(SchemaError, match=r"numbered 2, 3, \.\.\. in order, not \[3\]"):
        notes(script_step(3, "skips 2", "SELECT 1;"))


def test_an_unversioned_database_is_upgraded_once_and_keeps_its_rows(tmp_path):
    path = tmp_path / "notes.sqlite"
    with sqlite3.connect(path) as db:  # as version 1 made it, before versions existed
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        db.execute("INSERT INTO notes (body) VALUES ('kept')")
    for _ in range(2):  # the second open finds version 2 and runs nothing
        with sqlite3.connect(path) as db:
            assert upgrade_sqlite(db, notes(ADD_PINNED)) == 2
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT body, pinned FROM notes").fetchall() == [("kept", 0)]


def test_a_failing_step_leaves_the_database_as_it_was(tmp_path):
    path = tmp_path / "notes.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    broken = script_step(3, "refers to a missing table", "ALTER TABLE nowhere ADD COLUMN x INTEGER;")
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.OperationalError, match="nowhere"):
        upgrade_sqlite(db, notes(ADD_PINNED, broken))
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(notes)")]
        assert columns == ["id", "body"], "step 2 must be rolled back with step 3"
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'labhub_schema'").fetchone() is None


def _open_sessions(state_dir: str) -> None:
    SessionsDB(Path(state_dir)).add("ann", "", "cpu", "user")


def test_processes_opening_one_new_database_at_once_agree_on_its_version(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_sessions, args=(str(tmp_path),)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 8
    with sqlite3.connect(tmp_path / "sessions.sqlite") as db:
        assert db.execute("SELECT store, version FROM labhub_schema").fetchall() == [("sessions", SESSIONS.latest)]
        assert db.execute("SELECT COUNT(*) FROM stops").fetchone() == (8,)


def test_the_sqlalchemy_store_is_versioned_on_its_own_engine(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'submissions.sqlite'}")
    with store.engine.connect() as db:
        assert db.execute(text("SELECT version FROM labhub_schema WHERE store = 'submissions'")).scalar() == 1
    Store(f"sqlite:///{tmp_path / 'submissions.sqlite'}")  # opening again changes nothing
    with store.engine.connect() as db:
        assert db.execute(text("SELECT COUNT(*) FROM labhub_schema")).scalar() == 1
