"""What a lab of these settings keeps on the host, and where each piece goes back on restore.

Roots (a snapshot stores <root>/<relative path>):
  state              the state folder (hub.state_dir): the hub's jupyterhub.sqlite, every service store
                     (sessions.sqlite, gpu.sqlite, submissions.sqlite), generated secrets (mode 0600),
                     the submissions file store (submissions/blobs, cookie-secret)
  submissions-files  submissions.files_dir when it is set outside the state folder
  hub-db, submissions-db  a SQLite database set (db_url) outside the state folder
Not saved: pid files, logs, SQLite's -wal/-shm/-journal files (the online copy holds their content),
temporary files, and the submissions service's transient stage/ and runs/ folders.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings
from ..submissions.locations import db_url as submissions_db_url
from ..submissions.locations import files_dir
from . import BackupError
from .sqlite import SIDECARS, is_sqlite

HUB_DB = "jupyterhub.sqlite"
TRANSIENT_DIRS = ("stage", "runs")  # of the submissions file store: fetches and gradings in flight


@dataclass(frozen=True)
class Source:
    kind: str  # sqlite | secret | file
    root: str
    rel: str  # posix path under the root; "" for a root that is one file
    path: Path
    mode: int

    @property
    def name(self) -> str:
        return f"{self.root}/{self.rel}" if self.rel else f"{self.root}/{self.path.name}"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _sqlite_file(url: str, settings: Settings) -> Path | None:
    """The file of a sqlite:/// URL (None for another database)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = Path(url[len(prefix):].split("?", 1)[0])
    return path if path.is_absolute() else settings.path(path)


def databases(settings: Settings) -> dict[str, tuple[str, Path | None]]:
    """root -> (URL, SQLite file or None) of the hub's and the submissions service's databases."""
    hub_url = settings.hub.db_url or f"sqlite:///{settings.state_dir / HUB_DB}"
    found = {"hub-db": (hub_url, _sqlite_file(hub_url, settings))}
    if settings.submissions.enabled or settings.submissions.db_url:
        url = submissions_db_url(settings)
        found["submissions-db"] = (url, _sqlite_file(url, settings))
    return found


def targets(settings: Settings) -> dict[str, Path]:
    """Where each root lies on this machine (restore writes there)."""
    found = {"state": settings.state_dir, "submissions-files": files_dir(settings)}
    for root, (_url, path) in databases(settings).items():
        if path is not None:
            found[root] = path
    return found


def _walk(root: str, folder: Path, skip_dirs: set[Path], skipped: list[dict]) -> list[Source]:
    found = []
    for top, dirs, files in os.walk(folder):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if here / d not in skip_dirs)
        for name in sorted(files):
            path = here / name
            if name.endswith((".pid", ".log", *SIDECARS)) or name.startswith(".tmp-"):
                continue
            st = path.lstat()
            rel = path.relative_to(folder).as_posix()
            if not stat.S_ISREG(st.st_mode):
                skipped.append({"path": f"{root}/{rel}", "why": "not a regular file"})
                continue
            mode = stat.S_IMODE(st.st_mode)
            kind = "sqlite" if is_sqlite(path) else "secret" if mode & 0o777 == 0o600 else "file"
            found.append(Source(kind, root, rel, path, mode))
    return found


def collect(settings: Settings, exclude: Path | None = None) -> tuple[list[Source], list[dict]]:
    """Every file to save, and what cannot be saved here (with why). `exclude`: the backup folder, left
    out when it lies inside the state folder."""
    state = settings.state_dir
    if not state.is_dir():
        raise BackupError(f"{state}: the state folder of these settings does not exist (hub.state_dir); "
                          "give the settings of the lab to back up (--config or $LABHUB_CONFIG)")
    skipped: list[dict] = []
    store = files_dir(settings)
    skip_dirs = {store / d for d in TRANSIENT_DIRS} | ({exclude.resolve()} if exclude else set())
    sources = _walk("state", state, skip_dirs, skipped)
    if store.is_dir() and not _inside(store, state):
        sources += _walk("submissions-files", store, skip_dirs, skipped)
    for root, (url, path) in databases(settings).items():
        if path is None:
            skipped.append({"path": url.split("@")[-1], "why": "not SQLite: back it up with the database's own tools"})
        elif not _inside(path, state) and path.is_file():
            sources.append(Source("sqlite", root, "", path, stat.S_IMODE(path.stat().st_mode)))
    return sources, skipped
