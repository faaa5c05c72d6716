"""Where the submissions service keeps its database and files, from the settings."""

from __future__ import annotations

from pathlib import Path

DB_NAME = "submissions.sqlite"


def db_url(settings) -> str:
    return settings.submissions.db_url or f"sqlite:///{settings.state_dir / DB_NAME}"


def files_dir(settings) -> Path:
    configured = settings.submissions.files_dir
    return settings.path(configured) if configured else settings.state_dir / "submissions"
