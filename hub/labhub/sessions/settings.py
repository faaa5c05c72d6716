"""The `sessions:` settings section (the per-profile limits themselves live in the profiles)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..model import Duration, Strict


class WarmupSettings(Strict):
    """Scheduled warm-ups: a group's servers started before its class (labhub.sessions.warmup)."""

    # How long after the scheduled time a warm-up server is kept although idle, unless the request says.
    grace: Duration = Field(15 * 60, ge=0)
    # The longest grace a request may ask for.
    max_grace: Duration = Field(2 * 3600, ge=0)
    # Lead time = servers to start x the admission line's seconds per place + this margin.
    margin: Duration = Field(120, ge=0)
    # Seconds per place in line while the hub has measured no start yet (after its own restart).
    seconds_per_server: float = Field(10.0, gt=0)
    # How far ahead a warm-up may be scheduled.
    max_ahead: Duration = Field(30 * 86400, ge=60)

    @model_validator(mode="after")
    def _grace_within_max(self) -> "WarmupSettings":
        if self.grace > self.max_grace:
            raise ValueError(f"grace ({self.grace} s) is longer than max_grace ({self.max_grace} s)")
        return self


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
    warmup: WarmupSettings = WarmupSettings()
