"""The hub's state folder: generated secrets (never in the repo) and the SQLite database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_state_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def ensure_secret(state_dir: Path, name: str, nbytes: int = 32) -> str:
    """The secret stored in state_dir/name, created (mode 0600) on first use."""
    path = state_dir / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text().strip()
        if value:
            return value
        path.unlink()
        return ensure_secret(state_dir, name, nbytes)
    value = secrets.token_hex(nbytes)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value
