"""The `sessions:` settings section (the per-profile limits themselves live in the profiles)."""

from __future__ import annotations

from pydantic import Field

from ..model import Duration, Strict


class SessionsSettings(Strict):
    enabled: bool = True
    # How often every server is checked.
    interval: Duration = Field(60, ge=1)
    # Users are warned this long before an idle or max-age stop.
    warn_before: Duration = Field(15 * 60, ge=0)
    # A GPU holder below this utilisation (percent) counts as not using its GPU.
    gpu_idle_threshold_percent: float = Field(5.0, ge=0, le=100)
    # How often each server reports its activity to the hub (labhub-lab, JUPYTERHUB_ACTIVITY_INTERVAL).
    activity_interval: Duration = Field(60, ge=1)
    port: int = Field(10102, ge=1, le=65535)
