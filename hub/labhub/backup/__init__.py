"""`labhub backup DIR` and `labhub restore DIR/<snapshot>`: the lab's state and its users' homes.

- manifest.py  pure: snapshot names, the manifest and SHA256SUMS, verification, listings of a home
               (from a tar or from the helper) and the decision to reuse a previous archive
- sqlite.py    online copy of a SQLite file through SQLite's backup API (the hub may be writing)
- sources.py   what a lab of these settings keeps: state files, SQLite stores, where each goes back
- volumes.py   home volumes through the Docker API, in short-lived helper containers
- take.py      writing a snapshot; restore.py: checking one and bringing it back
- cli.py       the two commands on the `labhub` parser
"""


class BackupError(Exception):
    """A backup or restore cannot go on; the message says what to fix (one line, no traceback)."""
