"""The `gpu:` section of the settings: where the inventory comes from and the sharing rules."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from ..model import Duration, Size, Strict

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Hours = Annotated[float, Field(gt=0)]


class SimulatedGpus(Strict):
    """A made-up inventory for tests and for trying the lab on a machine without GPUs."""

    count: int = Field(4, ge=1, le=64)
    memory: Size = 80 * 1024**3
    name: str = Field("Simulated GPU 80GB", min_length=1, max_length=80)
    # Split every simulated GPU into this many MIG devices (0: no MIG), each its own unit.
    mig_per_gpu: int = Field(0, ge=0, le=7)


class GpuSettings(Strict):
    # auto: NVML when a driver answers, else no GPUs. simulated: `simulated` below. none: no GPUs.
    # swarm: the generic resources of the swarm's nodes (spawner.kind: swarm, where auto means swarm).
    inventory: Literal["auto", "nvml", "simulated", "none", "swarm"] = "auto"
    simulated: SimulatedGpus = SimulatedGpus()
    # Docker device requests for leased GPUs. auto: when `docker info` lists an nvidia runtime
    # (never for a simulated inventory, whose UUIDs no driver knows).
    device_requests: Literal["auto", "always", "never"] = "auto"
    # How long a GPU spawn may wait in the GPU queue before it gives up (added to start_timeout).
    queue_timeout: Duration = Field(3600, ge=10)
    # Weekly GPU-hours for GPU profiles that set no weekly_gpu_hours (none: no limit).
    default_weekly_hours: Hours | None = None
    # Weekly GPU-hours of a whole hub group (all its members together).
    group_weekly_hours: dict[str, Hours] = {}
    # When the weekly quota resets.
    week_starts: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    timezone: str = "UTC"
    # Fair share: waiting users are served in classes of this many GPU-hours used this week
    # (fewer hours first), first come first served within a class.
    fair_share_hours: Hours = 10
    # A request that does not fit yet (e.g. 2 whole GPUs) lets later, smaller ones pass it for at
    # most this long; after that the queue waits for it.
    backfill_for: Duration = 600
    # The admin page and API at /services/gpu/ listen on 127.0.0.1:<service_port>.
    service_port: int = Field(10110, ge=1, le=65535)
    # How often the service reclaims leases whose container is gone.
    reconcile_interval: Duration = Field(60, ge=5)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'UTC' or 'Europe/Berlin')") from None
        return value

    @field_validator("group_weekly_hours")
    @classmethod
    def _group_names(cls, value: dict[str, float]) -> dict[str, float]:
        for name in value:
            if not name.strip():
                raise ValueError("group names must not be empty")
        return value
