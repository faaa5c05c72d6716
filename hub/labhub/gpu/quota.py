"""Weekly GPU-hours: the week's window, hours used from lease records, and the refusal message."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .settings import WEEKDAYS, GpuSettings


@dataclass(frozen=True)
class UsageRecord:
    """One lease's time on GPUs: `rate` GPU-hours per hour from `start` until `end` (None: still held)."""

    user: str
    groups: tuple[str, ...]
    rate: float
    start: float
    end: float | None = None

    def hours(self, since: float, now: float) -> float:
        end = now if self.end is None else min(self.end, now)
        return max(0.0, end - max(self.start, since)) * self.rate / 3600


@dataclass(frozen=True)
class QuotaRules:
    default_user_hours: float | None = None
    group_hours: Mapping[str, float] = field(default_factory=dict)
    first_day: int = 0  # 0 = Monday
    tz: ZoneInfo = ZoneInfo("UTC")

    @classmethod
    def from_settings(cls, gpu: GpuSettings) -> QuotaRules:
        return cls(gpu.default_weekly_hours, dict(gpu.group_weekly_hours), WEEKDAYS.index(gpu.week_starts),
                   ZoneInfo(gpu.timezone))

    def week_start(self, now: float) -> float:
        local = datetime.fromtimestamp(now, self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight - timedelta(days=(local.weekday() - self.first_day) % 7)
        # Rebuild in the zone so a DST change within the week gives the right offset.
        return datetime(start.year, start.month, start.day, tzinfo=self.tz).timestamp()

    def next_reset(self, now: float) -> float:
        start = datetime.fromtimestamp(self.week_start(now), self.tz) + timedelta(days=7)
        return datetime(start.year, start.month, start.day, tzinfo=self.tz).timestamp()

    def format_time(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.tz).strftime("%A %d %b %Y, %H:%M %Z")


def hours_used(records: Iterable[UsageRecord], since: float, now: float, user: str | None = None,
               group: str | None = None) -> float:
    total = 0.0
    for r in records:
        if (user is None or r.user == user) and (group is None or group in r.groups):
            total += r.hours(since, now)
    return total


@dataclass(frozen=True)
class QuotaRefusal:
    subject: str  # "user alice" or "group class-a"
    used: float
    limit: float
    resets_at: float
    message: str


def _hours(value: float, limit: float) -> str:
    return f"{value:.4f}" if 0 < limit < 0.1 else f"{value:.2f}"  # tiny quotas (tests, trials) need the digits


def check_quota(user: str, groups: Iterable[str], profile_hours: float | None, records: list[UsageRecord],
                overrides: Mapping[tuple[str, str], float], rules: QuotaRules, now: float) -> QuotaRefusal | None:
    """A refusal when the user (or one of their groups) has used its weekly GPU-hours, else None.

    An admin's override (`labhub gpu quota`) wins over the profile's weekly_gpu_hours, which wins
    over gpu.default_weekly_hours; group limits come from overrides or gpu.group_weekly_hours.
    """
    since, resets = rules.week_start(now), rules.next_reset(now)
    when = rules.format_time(resets)
    limit = overrides.get(("user", user), profile_hours if profile_hours is not None else rules.default_user_hours)
    if limit is not None:
        used = hours_used(records, since, now, user=user)
        if used >= limit - 1e-9:
            return QuotaRefusal(
                f"user {user}", used, limit, resets,
                f"Your weekly GPU quota is used up: you have used {_hours(used, limit)} of your {limit:g} GPU-hours this week. "
                f"It resets on {when}. The CPU runtime is still open to you.",
            )
    for group in sorted(set(groups)):
        limit = overrides.get(("group", group), rules.group_hours.get(group))
        if limit is None:
            continue
        used = hours_used(records, since, now, group=group)
        if used >= limit - 1e-9:
            return QuotaRefusal(
                f"group {group}", used, limit, resets,
                f"Your group {group!r} has used its weekly GPU quota: {_hours(used, limit)} of {limit:g} GPU-hours this week. "
                f"It resets on {when}. The CPU runtime is still open to you.",
            )
    return None
