"""Checks of everything that comes in from a request: names, times, notebooks, assignment specs.

Every failure is a Problem (4xx) whose message names the field and what is allowed.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Annotated, Literal

import nbformat
from pydantic import AfterValidator, Field, ValidationError

from ..errors import describe
from ..model import Duration, Size, Strict
from .problems import Problem, bad_request

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID = re.compile(ID_PATTERN)
# One path segment of a file name: no separators, no leading dot (so no "..", no hidden files).
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.()+-]{0,127}$")
FILE_KINDS = ("starter", "visible_tests", "hidden_tests")


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise bad_request(
            f"{what} {value!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


def check_filename(name: str, *, allow_dirs: bool = False, suffix: str | None = None) -> str:
    """A relative file name that cannot leave its folder: no '..', no absolute path, no hidden files."""
    what = "file name"
    if not isinstance(name, str) or not name or len(name) > 255 or "\\" in name or "\x00" in name:
        raise bad_request(f"{what} {name!r} is not valid: use a plain name like 'homework.ipynb'")
    parts = name.split("/")
    if (len(parts) > 1 and not allow_dirs) or any(not _SEGMENT.match(p) for p in parts):
        hint = "folders separated by '/', " if allow_dirs else "no folders, "
        raise bad_request(
            f"{what} {name!r} is not allowed: use letters, digits, ' ', '.', '_', '-' ({hint}"
            "no '..', not starting with '.' or '/')"
        )
    if suffix and not name.lower().endswith(suffix):
        raise bad_request(f"{what} {name!r}: a {suffix} file is expected")
    return name


def check_notebook(data: bytes, filename: str) -> None:
    """A valid Jupyter notebook (JSON, nbformat 4 schema), or a 400 saying what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"{filename}: not a notebook (not UTF-8 text)") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise bad_request(f"{filename}: not a notebook (not valid JSON: {e.msg} at line {e.lineno})") from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise bad_request(f"{filename}: not a notebook (a .ipynb file has 'cells' and 'nbformat')")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        where = "/".join(str(p) for p in getattr(e, "absolute_path", []) or [])
        message = str(getattr(e, "message", e)).splitlines()[0][:200]
        raise bad_request(f"{filename}: not a valid notebook ({where + ': ' if where else ''}{message})") from None
    except Exception as e:  # nbformat raises a variety of errors for malformed documents
        raise bad_request(f"{filename}: not a valid notebook ({str(e).splitlines()[0][:200]})") from None


def parse_time(value, what: str) -> float:
    """Seconds since the epoch from an ISO 8601 time with a timezone ('2026-01-31T23:59:00+01:00')."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise bad_request(f"{what}: {value!r} is not a time; use ISO 8601 like 2026-01-31T23:59:00+01:00") from None
    if parsed.tzinfo is None:
        raise bad_request(f"{what}: {value!r} has no timezone; add one, like 2026-01-31T23:59:00+01:00 or ...Z")
    return parsed.timestamp()


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _require_timezone(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("add a timezone, like 2026-01-31T23:59:00+01:00 or ...Z")
    return value


AwareTime = Annotated[datetime, AfterValidator(_require_timezone)]


class AssignmentSpec(Strict):
    """What an instructor sends to create an assignment (times are ISO 8601 with a timezone)."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    deadline: AwareTime
    # None: not released until an instructor releases it.
    release_at: AwareTime | None = None
    # After the deadline: "refuse" the submission, or "accept" it marked late.
    late_policy: Literal["refuse", "accept"] = "refuse"
    # Share of the score a late submission loses in the grades (0.1 = 10 %).
    late_penalty: float = Field(0.0, ge=0, le=1)
    max_upload: Size | None = None
    # The runtime profile (slug in spawner_profiles/) whose image grades the submissions.
    profile: str | None = None
    time_limit: Duration | None = Field(None, ge=5)
    memory: Size | None = None


class AssignmentUpdate(Strict):
    """The fields an instructor may change later (deadline extensions, policy)."""

    title: str | None = Field(None, min_length=1, max_length=200)
    deadline: AwareTime | None = None
    release_at: AwareTime | None = None
    late_policy: Literal["refuse", "accept"] | None = None
    late_penalty: float | None = Field(None, ge=0, le=1)
    max_upload: Size | None = None
    profile: str | None = None
    time_limit: Duration | None = Field(None, ge=5)
    memory: Size | None = None


class CourseSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=200)


def parse_model(model: type[Strict], body: bytes | dict):
    """A model from a JSON body, or a 400 naming each wrong field."""
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise bad_request("the request body is not valid JSON") from None
    else:
        data = body
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object")
    try:
        return model(**data)
    except ValidationError as e:
        raise Problem(400, "; ".join(describe(e, model))) from None
