"""Copying a SQLite file that the hub or a service may be writing: SQLite's online backup API gives a
consistent copy (one transaction's view), where copying the file could catch half a write or miss
what is still in the write-ahead log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import BackupError

MAGIC = b"SQLite format 3\x00"
# Files SQLite keeps beside a database while it is open or after a crash; never saved or restored.
SIDECARS = ("-wal", "-shm", "-journal")


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def online_copy(source: Path, target: Path) -> None:
    """A consistent copy of `source` in the new file `target`, checked with PRAGMA quick_check."""
    if target.exists():
        raise BackupError(f"{target}: already exists")
    try:
        # Read-only: the copy never changes or creates the live database. The busy timeout and the
        # backup's own retries wait out a writer.
        src = sqlite3.connect(Path(source).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # all pages in one step: one consistent view of the source
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise BackupError(f"{source}: SQLite could not copy it ({e})") from None
    if check != "ok":
        raise BackupError(f"{source}: the copy fails SQLite's check ({check}); the database may be damaged")
    for suffix in SIDECARS:  # the copy was closed cleanly: nothing of it is left outside the file
        Path(f"{target}{suffix}").unlink(missing_ok=True)
