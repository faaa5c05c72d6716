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
        # See servers, their activity and options; stop them; ask their Jupyter whether a kernel is busy.
        scopes=["list:users", "read:users", "read:users:activity", "read:servers", "servers", "access:servers"],
        oauth_client_allowed_scopes=[],
    )
