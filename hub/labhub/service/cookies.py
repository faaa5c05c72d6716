"""A service's cookie secret, kept in the state folder: the OAuth and XSRF cookies a browser holds stay
valid when the hub restarts the service (a new secret at each start signs everyone out of its pages)."""

from __future__ import annotations

from pathlib import Path

from ..state import ensure_secret, ensure_state_dir


def cookie_secret(state_dir: Path, service: str, filename: str | None = None) -> str:
    return ensure_secret(ensure_state_dir(state_dir), filename or f"{service}-cookie-secret")
