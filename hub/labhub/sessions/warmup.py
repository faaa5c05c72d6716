"""Scheduled warm-ups, the pure part: who may warm up which group, reading a request, when to start.

A warm-up starts the servers of a hub group (with one profile) ahead of a class, through the hub's
admission line like any start, so the class finds its labs ready. The servers are exempt from idle
stops until the scheduled time + grace (labhub.sessions.policy); the runner is labhub.sessions.warmups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..submissions.roles import ALL_COURSES_GROUP, Caller, instructors_group, students_group
from ..units import format_duration, parse_duration
from .settings import WarmupSettings

FIELDS = ("group", "profile", "at", "grace")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
COURSE_PREFIX = students_group("")


class WarmupError(ValueError):
    """A request the API answers with 400: `field` names what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class WarmupRequest:
    group: str
    profile: str
    at: float  # epoch seconds
    grace: int  # seconds


def may_warm_up(caller: dict, group: str) -> bool:
    """Admins: any group. Instructors (`instructors`, `instructors-<course>`): their `course-<course>`.

    `caller` is the hub model HubAuth gave the handler (its `admin` and `groups`): no extra hub call.
    """
    if caller.get("admin"):
        return True
    if not group.startswith(COURSE_PREFIX) or group == COURSE_PREFIX:
        return False
    return Caller.from_hub_model(caller).role_in(group[len(COURSE_PREFIX):]) == "instructor"


def parse_at(value, now: datetime) -> datetime:
    """ISO 8601 with a time zone, or HH:MM: the next such time in `now`'s zone (today, else tomorrow)."""
    if not isinstance(value, str) or not value.strip():
        raise WarmupError("at", "give the time, as HH:MM (the hub's local time) or ISO 8601 with a time zone")
    text = value.strip()
    clock = _CLOCK.match(text)
    if clock:
        at = now.replace(hour=int(clock[1]), minute=int(clock[2]), second=0, microsecond=0)
        return at if at > now else at + timedelta(days=1)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise WarmupError("at", f"{text!r} is neither HH:MM nor ISO 8601 (e.g. 2026-12-04T08:55:00+01:00)") from None
    if at.tzinfo is None:
        raise WarmupError("at", f"{text!r} has no time zone: add one (e.g. +01:00 or Z), or give HH:MM")
    return at


def read_request(body, profiles: set[str], settings: WarmupSettings, now: datetime) -> WarmupRequest:
    """The request body, checked: every problem is a WarmupError naming its field.

    Whether the group exists and the caller may warm it up is checked by the caller (it needs the hub).
    """
    if not isinstance(body, dict):
        raise WarmupError("body", 'send a JSON object like {"group": "course-cs101", "profile": "cpu", "at": "08:55"}')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise WarmupError(unknown[0], f"unknown field; the fields are {', '.join(FIELDS)}")
    group = body.get("group")
    if not isinstance(group, str) or not group.strip():
        raise WarmupError("group", "give the hub group whose servers start, e.g. course-cs101")
    profile = body.get("profile")
    if profile not in profiles:
        raise WarmupError("profile", f"unknown profile {profile!r}; one of {', '.join(sorted(profiles))}")
    at = parse_at(body.get("at"), now)
    if at <= now:
        raise WarmupError("at", f"{at.isoformat()} is in the past")
    if at - now > timedelta(seconds=settings.max_ahead):
        raise WarmupError("at", f"{at.isoformat()} is more than {format_duration(settings.max_ahead)} ahead")
    raw_grace = body.get("grace")
    try:
        grace = settings.grace if raw_grace in (None, "") else parse_duration(raw_grace)
    except ValueError as e:
        raise WarmupError("grace", str(e)) from None
    if grace > settings.max_grace:
        raise WarmupError("grace", f"{format_duration(grace)} is longer than the lab allows "
                                   f"({format_duration(settings.max_grace)}, sessions.warmup.max_grace)")
    return WarmupRequest(group.strip(), profile, at.timestamp(), grace)


def lead_time(servers: int, seconds_per_place: float, margin: float) -> float:
    """How long before the scheduled time the starts are requested: the admission line's estimate for
    the last of `servers` (seconds per place in line x places), plus a margin."""
    return servers * seconds_per_place + margin


def may_schedule(caller: dict) -> bool:
    """Admins and instructors see the warm-up page and API (each group is checked by may_warm_up)."""
    groups = caller.get("groups") or ()
    return bool(caller.get("admin")) or any(
        g == ALL_COURSES_GROUP or g.startswith(instructors_group("")) for g in groups)


def suggested_groups(caller: dict) -> list[str]:
    """The course groups an instructor teaches, offered on the page's form."""
    prefix = instructors_group("")
    return sorted(students_group(g[len(prefix):]) for g in caller.get("groups") or () if g.startswith(prefix))
