"""Colab-like session limits: per-profile idle timeout and max age, warnings, stop records."""

from __future__ import annotations

from ..services import ManagedService


def managed_service(settings) -> ManagedService | None:
    if not settings.sessions.enabled:
        return None
    return ManagedService(
        name="sessions",
        module="labhub.sessions",
        port=settings.sessions.port,
        # See users (admin flag, groups, activity) and their servers (activity, options); stop servers.
        # No access:servers: it never calls a user's Jupyter server (labhub.sessions.service).
        scopes=["list:users", "read:users", "read:servers", "delete:servers"],
        oauth_client_allowed_scopes=[],
    )
