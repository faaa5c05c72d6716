"""The sessions pieces that run inside the hub process: stop records and the per-user announcement."""

from __future__ import annotations

import time
from pathlib import Path

from ..units import format_duration
from .store import SessionsDB

REASON_TEXT = {
    "idle": "it has been idle (come back to it to keep it running)",
    "gpu_idle": "its GPU has been idle (use the GPU, or switch to a CPU runtime)",
    "max_age": "it reached its maximum session length (save your work)",
    "warmup_unused": "it was started ahead of your class and has not been used (use it to keep it)",
}


def announcement(state_dir: Path):
    """A template_vars callable: the banner of hub pages shows the user's coming stops."""
    db = SessionsDB(state_dir)

    def for_user(user) -> str:
        if user is None:
            return ""
        now = time.time()
        notes = [
            f"Your server{' ' + w.server if w.server else ''} stops in about "
            f"{format_duration(max(60, w.stop_at - now))} because {REASON_TEXT.get(w.reason, w.reason)}. "
            "Your files in the home folder are kept."
            for w in db.warnings_for(user.name)
            if w.stop_at > now - 60
        ]
        return " ".join(notes)

    return for_user


def record_stop(db: SessionsDB, user: str, server: str, profile: str, crashed: bool,
                crash_detail: str = "the server had exited") -> str:
    """Record a stop with the reason given in advance (sessions service, admin), else user/error."""
    expected = db.take_expected(user, server)
    reason, detail = expected if expected else (("error", crash_detail) if crashed else ("user", ""))
    db.add(user, server, profile, reason, detail)
    db.server_gone(user, server)
    return reason
