"""The submissions database (SQLAlchemy: SQLite by default, PostgreSQL by URL).

Nothing is ever overwritten: every upload is a new submission version, every grading run a new row.
Times are seconds since the epoch, set by the server.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ..service.schema import Migrations, upgrade_sqlalchemy

metadata = MetaData()

courses = Table(
    "courses", metadata,
    Column("id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
)

assignments = Table(
    "assignments", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("course", String(64), ForeignKey("courses.id"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    Column("release_at", Float, nullable=True),  # None: not released
    Column("deadline", Float, nullable=False),
    Column("late_policy", String(16), nullable=False),
    Column("late_penalty", Float, nullable=False, default=0.0),
    Column("max_upload", Integer, nullable=False),
    Column("profile", String(64), nullable=False),
    Column("time_limit", Integer, nullable=False),
    Column("memory", Integer, nullable=False),
    Column("feedback_released_at", Float, nullable=True),
    Column("created_by", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("course", "id"),
)

assignment_files = Table(
    "assignment_files", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("assignment", Integer, ForeignKey("assignments.pk"), nullable=False),
    Column("kind", String(16), nullable=False),  # starter | visible_tests | hidden_tests
    Column("name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("uploaded_at", Float, nullable=False),
    UniqueConstraint("assignment", "kind", "name"),
)

submissions = Table(
    "submissions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", Integer, ForeignKey("assignments.pk"), nullable=False),
    Column("student", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("submitted_at", Float, nullable=False),
    Column("late", Boolean, nullable=False),
    Column("via", String(16), nullable=False),  # web | api
    UniqueConstraint("assignment", "student", "version"),
)

gradings = Table(
    "gradings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("submission", Integer, ForeignKey("submissions.id"), nullable=False),
    Column("state", String(16), nullable=False),  # queued | running | done
    # graded | time_limit | memory_limit | error (set when done)
    Column("outcome", String(16), nullable=True),
    Column("score", Float, nullable=True),
    Column("max_score", Float, nullable=True),
    Column("details", Text, nullable=True),  # JSON: tests, cell errors, message
    Column("queued_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("requested_by", String(255), nullable=False),
)


# Version 1 is `metadata` as stop 19 (e04e527) made it; a change to a table is a new Step here
# (an alembic operation on the connection), and `metadata` shows the result.
MIGRATIONS = Migrations("submissions", marker_table="courses", create=lambda db: metadata.create_all(db))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class TooManyVersions(Exception):
    """The student has the most versions of this assignment the lab keeps."""

    def __init__(self, limit: int):
        super().__init__(f"{limit} versions kept already")
        self.limit = limit


def _row(row) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


class Store:
    def __init__(self, url: str):
        self.engine = make_engine(url)
        upgrade_sqlalchemy(self.engine, MIGRATIONS)

    # --- courses ---

    def add_course(self, course_id: str, title: str, by: str) -> dict | None:
        """The new course, or None when the id is taken."""
        try:
            with self.engine.begin() as db:
                db.execute(insert(courses).values(id=course_id, title=title, created_by=by, created_at=time.time()))
        except IntegrityError:
            return None
        return self.course(course_id)

    def course(self, course_id: str) -> dict | None:
        with self.engine.connect() as db:
            return _row(db.execute(select(courses).where(courses.c.id == course_id)).first())

    def courses(self) -> list[dict]:
        with self.engine.connect() as db:
            return [_row(r) for r in db.execute(select(courses).order_by(courses.c.id))]

    # --- assignments ---

    def add_assignment(self, course_id: str, values: dict, by: str) -> dict | None:
        try:
            with self.engine.begin() as db:
                db.execute(insert(assignments).values(course=course_id, created_by=by, created_at=time.time(), **values))
        except IntegrityError:
            return None
        return self.assignment(course_id, values["id"])

    def assignment(self, course_id: str, assignment_id: str) -> dict | None:
        with self.engine.connect() as db:
            q = select(assignments).where(assignments.c.course == course_id, assignments.c.id == assignment_id)
            return _row(db.execute(q).first())

    def assignment_by_pk(self, pk: int) -> dict | None:
        with self.engine.connect() as db:
            return _row(db.execute(select(assignments).where(assignments.c.pk == pk)).first())

    def assignments(self, course_id: str) -> list[dict]:
        with self.engine.connect() as db:
            q = select(assignments).where(assignments.c.course == course_id).order_by(assignments.c.deadline)
            return [_row(r) for r in db.execute(q)]

    def update_assignment(self, pk: int, **values) -> None:
        if values:
            with self.engine.begin() as db:
                db.execute(update(assignments).where(assignments.c.pk == pk).values(**values))

    # --- assignment files ---

    def put_file(self, assignment_pk: int, kind: str, name: str, digest: str, size: int) -> None:
        """Adds the file, or points an existing name at the new content."""
        with self.engine.begin() as db:
            where = (assignment_files.c.assignment == assignment_pk, assignment_files.c.kind == kind,
                     assignment_files.c.name == name)
            values = {"sha256": digest, "size": size, "uploaded_at": time.time()}
            if db.execute(update(assignment_files).where(*where).values(**values)).rowcount == 0:
                db.execute(insert(assignment_files).values(assignment=assignment_pk, kind=kind, name=name, **values))

    def files(self, assignment_pk: int, kinds: tuple[str, ...]) -> list[dict]:
        with self.engine.connect() as db:
            q = (select(assignment_files)
                 .where(assignment_files.c.assignment == assignment_pk, assignment_files.c.kind.in_(kinds))
                 .order_by(assignment_files.c.kind, assignment_files.c.name))
            return [_row(r) for r in db.execute(q)]

    def file(self, assignment_pk: int, kind: str, name: str) -> dict | None:
        with self.engine.connect() as db:
            q = select(assignment_files).where(
                assignment_files.c.assignment == assignment_pk, assignment_files.c.kind == kind,
                assignment_files.c.name == name)
            return _row(db.execute(q).first())

    # --- submissions ---

    def version_count(self, assignment_pk: int, student: str) -> int:
        with self.engine.connect() as db:
            return db.execute(
                select(func.max(submissions.c.version))
                .where(submissions.c.assignment == assignment_pk, submissions.c.student == student)
            ).scalar() or 0

    def add_submission(self, assignment_pk: int, student: str, filename: str, digest: str, size: int,
                       at: float, late: bool, via: str, max_versions: int | None = None) -> dict:
        """A new version (previous versions stay); the version number comes from the database.
        TooManyVersions when the student has `max_versions` already (checked in the same transaction,
        so parallel uploads cannot pass it)."""
        for _ in range(20):
            try:
                with self.engine.begin() as db:
                    last = db.execute(
                        select(func.max(submissions.c.version))
                        .where(submissions.c.assignment == assignment_pk, submissions.c.student == student)
                    ).scalar()
                    if max_versions is not None and (last or 0) >= max_versions:
                        raise TooManyVersions(max_versions)
                    result = db.execute(insert(submissions).values(
                        assignment=assignment_pk, student=student, version=(last or 0) + 1, filename=filename,
                        sha256=digest, size=size, submitted_at=at, late=late, via=via))
                    new_id = result.inserted_primary_key[0]
                return self.submission(new_id)
            except IntegrityError:  # another upload of the same student took that version first
                continue
        raise RuntimeError("could not number the submission")

    def submission(self, submission_id: int) -> dict | None:
        with self.engine.connect() as db:
            return _row(db.execute(select(submissions).where(submissions.c.id == submission_id)).first())

    def submissions(self, assignment_pk: int, student: str | None = None, latest_only: bool = False) -> list[dict]:
        with self.engine.connect() as db:
            q = select(submissions).where(submissions.c.assignment == assignment_pk)
            if student is not None:
                q = q.where(submissions.c.student == student)
            if latest_only:
                latest = (select(submissions.c.student, func.max(submissions.c.version).label("v"))
                          .where(submissions.c.assignment == assignment_pk)
                          .group_by(submissions.c.student).subquery())
                q = q.join(latest, (latest.c.student == submissions.c.student) & (latest.c.v == submissions.c.version))
            q = q.order_by(submissions.c.student, submissions.c.version)
            return [_row(r) for r in db.execute(q)]

    # --- gradings ---

    def add_grading(self, submission_id: int, by: str) -> int:
        with self.engine.begin() as db:
            result = db.execute(insert(gradings).values(
                submission=submission_id, state="queued", queued_at=time.time(), requested_by=by))
            return result.inserted_primary_key[0]

    def grading(self, grading_id: int) -> dict | None:
        with self.engine.connect() as db:
            return _row(db.execute(select(gradings).where(gradings.c.id == grading_id)).first())

    def grading_started(self, grading_id: int) -> None:
        with self.engine.begin() as db:
            db.execute(update(gradings).where(gradings.c.id == grading_id)
                       .values(state="running", started_at=time.time()))

    def grading_finished(self, grading_id: int, outcome: str, score: float, max_score: float, details: dict) -> None:
        with self.engine.begin() as db:
            db.execute(update(gradings).where(gradings.c.id == grading_id).values(
                state="done", outcome=outcome, score=score, max_score=max_score,
                details=json.dumps(details), finished_at=time.time()))

    def unfinished_gradings(self) -> list[int]:
        with self.engine.connect() as db:
            q = select(gradings.c.id).where(gradings.c.state != "done").order_by(gradings.c.id)
            return [r[0] for r in db.execute(q)]

    def latest_grading(self, submission_id: int, done_only: bool = False) -> dict | None:
        with self.engine.connect() as db:
            q = select(gradings).where(gradings.c.submission == submission_id)
            if done_only:
                q = q.where(gradings.c.state == "done")
            return _row(db.execute(q.order_by(gradings.c.id.desc()).limit(1)).first())

    # --- figures for monitoring ---

    def submission_counts(self) -> list[tuple[str, str, bool, int]]:
        with self.engine.connect() as db:
            q = (select(assignments.c.course, assignments.c.id, submissions.c.late, func.count())
                 .select_from(submissions.join(assignments, submissions.c.assignment == assignments.c.pk))
                 .group_by(assignments.c.course, assignments.c.id, submissions.c.late))
            return [(c, a, bool(late), n) for c, a, late, n in db.execute(q)]

    def grading_counts(self) -> list[tuple[str, str, int]]:
        with self.engine.connect() as db:
            q = select(gradings.c.state, gradings.c.outcome, func.count()).group_by(gradings.c.state, gradings.c.outcome)
            return [(s, o, n) for s, o, n in db.execute(q)]

    def grading_durations(self) -> list[float]:
        with self.engine.connect() as db:
            q = select(gradings.c.finished_at - gradings.c.started_at).where(
                gradings.c.state == "done", gradings.c.started_at.is_not(None))
            return [float(r[0]) for r in db.execute(q)]
