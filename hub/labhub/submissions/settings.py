"""The `submissions:` section of the settings file (assignments, submissions and autograding)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..model import Duration, Size, Strict

MiB = 1024**2


class GradingSettings(Strict):
    """Limits of the throw-away containers that grade one submission (an assignment may lower or
    raise time and memory within these bounds)."""

    # Submissions graded at once; each takes two containers.
    concurrency: int = Field(1, ge=1, le=64)
    cpus: float = Field(1.0, gt=0, le=64)
    # Memory of the student's kernel (no swap beyond it): beyond it the grade is "memory limit".
    memory: Size = 1024 * MiB
    max_memory: Size = 8192 * MiB
    # Wall time for running the notebook and the tests: beyond it the grade is "time limit".
    time_limit: Duration = Field(600, ge=5)
    max_time_limit: Duration = Field(3600, ge=5)
    # Each test's calls into the student's kernel together get at most this long.
    test_timeout: Duration = Field(30, ge=1)
    pids_limit: int = Field(256, ge=32)
    # The only writable place inside the grading containers (a tmpfs, counted in the memory limit).
    scratch_size: Size = 256 * MiB
    # The checker (nbclient and the tests, never student code) gets its own memory limit.
    checker_memory: Size = 512 * MiB


class FetchSettings(Strict):
    """Limits of the short-lived helper container that copies starter files into a student's home."""

    # Fetches running at once (each in its own thread and container); more wait their turn.
    concurrency: int = Field(4, ge=1, le=64)
    cpus: float = Field(0.5, gt=0, le=16)
    memory: Size = 256 * MiB
    # Beyond it the helper is killed and removed, and the student gets a 504 saying so.
    time_limit: Duration = Field(60, ge=5, le=3600)


class SubmissionsSettings(Strict):
    enabled: bool = True
    # The service listens on 127.0.0.1:<port> (the proxy serves it at /services/submissions/) and on
    # the address user containers reach the hub API at, for `lab-assignments` inside the lab.
    port: int = Field(10101, ge=1, le=65535)
    # Where `lab-assignments` in a user container reaches the service (default: http://<that
    # address>:<port>/services/submissions/). Set it when user containers cannot reach that address.
    container_url: str | None = Field(None, pattern=r"^https?://[^/]+/.*$")
    # SQLAlchemy URL of the database (default: SQLite in the hub's state folder), e.g.
    # postgresql://labhub:secret@db/submissions
    db_url: str | None = None
    # Where submitted notebooks and assignment files are kept, by content hash (default:
    # <state_dir>/submissions). A host folder: grading containers mount parts of it.
    files_dir: Path | None = None
    # The upload size an assignment allows unless it says otherwise, and the most any may allow.
    default_max_upload: Size = 10 * MiB
    max_upload: Size = 100 * MiB
    # The folder in a student's home that fetched starter files go to: <folder>/<course>/<assignment>/.
    home_folder: str = Field("assignments", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    # Versions kept per student and assignment; beyond it a submission gets a 409 saying what to do.
    max_versions_per_student: int = Field(50, ge=1, le=10_000)
    # Notebooks checked at once, off the service's event loop (a large one takes seconds).
    check_concurrency: int = Field(2, ge=1, le=16)
    fetch: FetchSettings = FetchSettings()
    grading: GradingSettings = GradingSettings()
