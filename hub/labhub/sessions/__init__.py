"""Colab-like session limits: per-profile idle timeout and max age, warnings, stop records; scheduled warm-ups."""

from __future__ import annotations

from ..service.scopes import CUSTOM_SCOPES, SESSIONS_ADMIN
from ..services import ManagedService


def managed_service(settings) -> ManagedService | None:
    if not settings.sessions.enabled:
        return None
    return ManagedService(
        name="sessions",
        module="labhub.sessions",
        port=settings.sessions.port,
        # See users (admin flag, groups, activity) and their servers (activity, options); stop servers;
        # start them for a scheduled warm-up (`servers`), read the group to warm up and the admission
        # line's estimate on /hub/metrics. No access:servers: it never calls a user's Jupyter server
        # (labhub.sessions.service).
        scopes=["list:users", "read:users", "servers", "read:groups", "read:metrics"],
        # A login carries the admin scope where the user holds it (labhub.service.scopes).
        oauth_client_allowed_scopes=[SESSIONS_ADMIN],
        custom_scopes={SESSIONS_ADMIN: CUSTOM_SCOPES[SESSIONS_ADMIN]},
        # Users may call it (their own session figures; instructors schedule their course's warm-ups);
        # each handler decides from the caller's scopes, admin flag and groups.
        user_scopes=["access:services!service=sessions"],
    )
